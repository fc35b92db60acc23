"""The ten KServe datatypes infervisor carries, and how each maps to numpy.

numpy has no bfloat16: BF16 tensors travel as their 16-bit patterns (``uint16`` arrays), and are
converted from and to float32 here with the same rounding as the daemon's (round to nearest even,
NaN stays NaN).
"""
from __future__ import annotations

from typing import Dict

import numpy as np

# KServe name -> numpy dtype of the bytes on the wire (little-endian, as the protocol says).
WIRE_DTYPES: Dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # bit patterns; see bf16_to_float32
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}

# numpy kind+size -> KServe name, for inputs whose datatype is not given. uint16 is absent: it
# is BF16 bit patterns only when the caller says so.
_FROM_NUMPY: Dict[str, str] = {
    "b1": "BOOL",
    "u1": "UINT8",
    "i1": "INT8",
    "i2": "INT16",
    "i4": "INT32",
    "i8": "INT64",
    "f2": "FP16",
    "f4": "FP32",
    "f8": "FP64",
}


def kserve_name_of(dtype: np.dtype) -> str:
    """The KServe datatype for a numpy dtype; ValueError for those infervisor cannot carry."""
    name = _FROM_NUMPY.get(f"{dtype.kind}{dtype.itemsize}")
    if name is None:
        raise ValueError(
            f"numpy dtype {dtype} has no KServe datatype infervisor carries (bool, uint8, int8, "
            f"int16, int32, int64, float16, float32, float64; BF16 from float32 or uint16 bit "
            f"patterns when asked)")
    return name


def wire_dtype(datatype: str) -> np.dtype:
    """The numpy dtype of a KServe datatype's bytes; ValueError for an unknown name."""
    try:
        return WIRE_DTYPES[datatype]
    except KeyError:
        raise ValueError(
            f"unknown KServe datatype '{datatype}' (expected one of "
            f"{', '.join(WIRE_DTYPES)})") from None


def float32_to_bf16(values: np.ndarray) -> np.ndarray:
    """float32 (or anything numpy converts to it) -> bfloat16 bit patterns as uint16.

    Round to nearest, ties to even; a NaN stays a (quiet) NaN with its sign; overflow becomes
    infinity, as in the daemon's common/half.hpp.
    """
    bits = np.ascontiguousarray(values, dtype="<f4").view("<u4")
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) >> np.uint32(16)
    nan = (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    quiet = (bits >> np.uint32(16)) | np.uint32(0x40)
    return np.where(nan, quiet, rounded).astype("<u2")


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32, exactly (every bfloat16 is a float32)."""
    return (np.asarray(bits, dtype="<u2").astype("<u4") << np.uint32(16)).view("<f4")
