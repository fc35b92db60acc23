"""KServe v2 inference requests and responses as bytes: no socket, no server (unit-tested alone).

A request is a JSON header followed by the binary tensor data extension's parts
(``Inference-Header-Content-Length`` gives the header's length); an input in a shared-memory region
carries ``shared_memory_region``/``shared_memory_byte_size``/``shared_memory_offset`` instead of
data. A response is the same shape in the other direction.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._dtypes import bf16_to_float32, float32_to_bf16, wire_dtype
from .errors import ProtocolError

HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class RegionRef:
    """Where a tensor lives: a registered region's name, and a byte range in it."""

    region: str
    offset: int
    byte_size: int

    def parameters(self) -> Dict[str, Any]:
        return {"shared_memory_region": self.region,
                "shared_memory_byte_size": self.byte_size,
                "shared_memory_offset": self.offset}


@dataclass
class WireInput:
    """One input as it is sent: bytes in the datatype's wire layout, or a region reference."""

    name: str
    datatype: str
    shape: Tuple[int, ...]
    data: Optional[np.ndarray] = None  # C-contiguous, little-endian wire dtype
    region: Optional[RegionRef] = None


@dataclass
class WireOutput:
    """One requested output: returned in the body, or written by the server into a region."""

    name: str
    region: Optional[RegionRef] = None


class InferResult(Dict[str, Any]):
    """The outputs of one inference, by name (numpy arrays, or torch tensors for CUDA regions).

    A dict, plus what the server said about the request:

    Attributes:
        id: the request's ``id``, echoed by the server (None if the request had none).
        model_name, model_version: the model that answered.
        datatypes: each output's KServe datatype as the server sent it (a BF16 output is
            returned as float32 unless raw BF16 was asked for: this says it was BF16).
    """

    def __init__(self) -> None:
        super().__init__()
        self.id: Optional[str] = None
        self.model_name: str = ""
        self.model_version: str = ""
        self.datatypes: Dict[str, str] = {}


def element_count(shape: Sequence[int]) -> int:
    return int(math.prod(shape)) if len(shape) else 1


def encode_request(inputs: Sequence[WireInput], outputs: Optional[Sequence[WireOutput]], *,
                   binary: bool = True, request_id: Optional[str] = None,
                   parameters: Optional[Mapping[str, Any]] = None
                   ) -> Tuple[List[Any], Dict[str, str]]:
    """The body parts and headers of an inference request.

    ``outputs`` None asks for every output. With ``binary``, tensor data follows the JSON header
    as raw bytes, and outputs are asked for as binary; otherwise everything is JSON.
    """
    document: Dict[str, Any] = {}
    if request_id is not None:
        document["id"] = request_id
    request_parameters = dict(parameters or {})
    if binary and outputs is None:
        request_parameters["binary_data_output"] = True
    if request_parameters:
        document["parameters"] = request_parameters
    parts: List[Any] = []
    json_inputs = []
    for tensor in inputs:
        entry: Dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype,
                                 "shape": [int(d) for d in tensor.shape]}
        if tensor.region is not None:
            entry["parameters"] = tensor.region.parameters()
        elif tensor.data is None:
            raise ValueError(f"input '{tensor.name}' has neither data nor a region")
        elif binary:
            buffer: Any = tensor.data  # an ndarray is a buffer (numpy's stubs do not say so)
            view = memoryview(buffer).cast("B") if tensor.data.size else memoryview(b"")
            entry["parameters"] = {"binary_data_size": view.nbytes}
            parts.append(view)
        else:
            entry["data"] = _json_elements(tensor.data, tensor.datatype, tensor.name)
        json_inputs.append(entry)
    document["inputs"] = json_inputs
    if outputs is not None:
        json_outputs = []
        for output in outputs:
            entry = {"name": output.name}
            if output.region is not None:
                entry["parameters"] = output.region.parameters()
            else:
                entry["parameters"] = {"binary_data": binary}
            json_outputs.append(entry)
        document["outputs"] = json_outputs
    try:
        header = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        raise ValueError("JSON tensors cannot hold NaN or infinity; send them binary "
                         "(binary=True)") from None
    headers = {"Content-Type": "application/json"}
    if parts:
        headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}
    return [header, *parts], headers


def _json_elements(data: np.ndarray, datatype: str, name: str) -> List[Any]:
    flat = data.reshape(-1)
    if datatype == "BF16":
        return bf16_to_float32(flat).tolist()
    return flat.tolist()


def _from_json_data(values: Any, datatype: str, shape: Sequence[int], name: str) -> np.ndarray:
    """JSON ``data`` (flat or nested; null for NaN) -> array in the wire dtype."""
    flat: List[Any] = []

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for each in item:
                walk(each)
        else:
            flat.append(item)

    walk(values)
    if len(flat) != element_count(shape):
        raise ProtocolError(f"output '{name}' has {len(flat)} JSON elements but shape "
                            f"{list(shape)} needs {element_count(shape)}")
    if datatype in ("FP16", "BF16", "FP32", "FP64"):
        flat = [math.nan if v is None else v for v in flat]
    if datatype == "BF16":
        return float32_to_bf16(np.array(flat, dtype=np.float32)).reshape(shape)
    return np.array(flat, dtype=wire_dtype(datatype)).reshape(shape)


def parse_header(raw: bytes) -> Dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise ProtocolError(f"the inference response's JSON is not valid: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("outputs", []), list):
        raise ProtocolError("the inference response is not a JSON object with an 'outputs' list")
    return document


def decode_response(document: Mapping[str, Any], binary_bytes: int,
                    read_into: Callable[[memoryview], None], *,
                    raw_bf16: bool = False,
                    regions: Optional[Mapping[str, RegionRef]] = None,
                    region_array: Optional[Callable[[RegionRef, np.dtype, Tuple[int, ...]],
                                                    Any]] = None) -> InferResult:
    """Builds the result from a parsed JSON header.

    ``read_into`` fills a buffer from the binary part of the body (in output order);
    ``binary_bytes`` is how many bytes that part has. An output written to a region (its name in
    ``regions``) is taken from ``region_array(ref, dtype, shape)``.
    """
    result = InferResult()
    result.id = document.get("id")
    result.model_name = str(document.get("model_name", ""))
    result.model_version = str(document.get("model_version", ""))
    regions = regions or {}
    claimed = 0
    for output in document.get("outputs", []):
        if not isinstance(output, dict):
            raise ProtocolError("an output in the inference response is not a JSON object")
        name = output.get("name")
        datatype = output.get("datatype")
        shape = output.get("shape")
        if not isinstance(name, str) or not isinstance(datatype, str) or not isinstance(
                shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ProtocolError(f"output {output.get('name')!r} lacks a valid name, datatype or "
                                f"shape")
        try:
            dtype = wire_dtype(datatype)
        except ValueError as error:
            raise ProtocolError(f"output '{name}': {error}") from None
        shape_t = tuple(shape)
        nbytes = element_count(shape_t) * dtype.itemsize
        parameters = output.get("parameters") or {}
        array: Any
        if "data" in output:
            array = _from_json_data(output["data"], datatype, shape_t, name)
        elif "binary_data_size" in parameters:
            size = parameters["binary_data_size"]
            if size != nbytes:
                raise ProtocolError(f"output '{name}' has binary_data_size {size} but shape "
                                    f"{shape} of {datatype} needs {nbytes} bytes")
            claimed += nbytes
            if claimed > binary_bytes:
                raise ProtocolError(f"output '{name}' runs past the end of the response's "
                                    f"{binary_bytes} bytes of binary data")
            array = np.empty(shape_t, dtype=dtype)
            if nbytes:
                read_into(memoryview(array).cast("B"))
        elif name in regions and region_array is not None:
            ref = regions[name]
            if nbytes > ref.byte_size:
                raise ProtocolError(f"output '{name}' has {nbytes} bytes but its region holds "
                                    f"{ref.byte_size}")
            array = region_array(ref, dtype, shape_t)
        else:
            raise ProtocolError(f"output '{name}' has neither data, binary_data_size nor a "
                                f"shared-memory region")
        if datatype == "BF16" and not raw_bf16:
            array = _bf16_result(array)
        result[name] = array
        result.datatypes[name] = datatype
    if claimed != binary_bytes:
        raise ProtocolError(f"the response has {binary_bytes} bytes of binary data but its "
                            f"outputs claim {claimed}")
    return result


def _bf16_result(array: Any) -> Any:
    if isinstance(array, np.ndarray):
        return bf16_to_float32(array)
    # A torch tensor from a CUDA region, already torch.bfloat16: raw means keep it so.
    return array.float()
