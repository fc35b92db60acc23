"""The client's pure parts: socket path rules, datatypes, BF16 rounding, request and response
encoding. No server, no socket."""
import io
import json
import math
import struct
import unittest

import numpy as np

import infervisor
from infervisor import _kserve
from infervisor._dtypes import (WIRE_DTYPES, bf16_to_float32, float32_to_bf16, kserve_name_of,
                                wire_dtype)
from infervisor._kserve import RegionRef, WireInput, WireOutput
from infervisor.errors import ProtocolError


class DefaultSocketPath_test(unittest.TestCase):
    def test_explicit_variable_wins(self):
        self.assertEqual(infervisor.default_socket_path(
            {"INFERVISOR_SOCKET": "/tmp/x.sock", "XDG_RUNTIME_DIR": "/run/user/5"}, euid=5),
            "/tmp/x.sock")
        self.assertEqual(infervisor.default_socket_path({"INFERVISOR_SOCKET": "/tmp/x.sock"},
                                                        euid=0), "/tmp/x.sock")

    def test_root_uses_run_even_with_a_runtime_dir(self):
        self.assertEqual(infervisor.default_socket_path({"XDG_RUNTIME_DIR": "/run/user/0"},
                                                        euid=0),
                         "/run/infervisor/infervisor.sock")

    def test_user_uses_the_runtime_dir_when_absolute(self):
        self.assertEqual(infervisor.default_socket_path({"XDG_RUNTIME_DIR": "/run/user/5"},
                                                        euid=5),
                         "/run/user/5/infervisor/infervisor.sock")
        for ignored in ({"XDG_RUNTIME_DIR": "relative/dir"}, {}, {"INFERVISOR_SOCKET": ""}):
            self.assertEqual(infervisor.default_socket_path(ignored, euid=5),
                             "/run/infervisor/infervisor.sock", ignored)


class Datatypes_test(unittest.TestCase):
    def test_every_numpy_dtype_maps_to_its_kserve_name(self):
        cases = {np.bool_: "BOOL", np.uint8: "UINT8", np.int8: "INT8", np.int16: "INT16",
                 np.int32: "INT32", np.int64: "INT64", np.float16: "FP16",
                 np.float32: "FP32", np.float64: "FP64", ">f4": "FP32"}
        for dtype, name in cases.items():
            self.assertEqual(kserve_name_of(np.dtype(dtype)), name)
        self.assertEqual(len(WIRE_DTYPES), 10)

    def test_dtypes_without_a_kserve_name_are_refused_by_name(self):
        for dtype in (np.uint16, np.uint32, np.complex64, object):
            with self.assertRaisesRegex(ValueError, "no KServe datatype"):
                kserve_name_of(np.dtype(dtype))
        with self.assertRaisesRegex(ValueError, "unknown KServe datatype 'FP8'"):
            wire_dtype("FP8")

    def test_bf16_rounds_to_nearest_even_like_the_daemon(self):
        def bits(value):
            return struct.unpack("<I", struct.pack("<f", value))[0]

        def from_bits(b):
            return struct.unpack("<f", struct.pack("<I", b))[0]

        cases = [
            (1.0, 0x3F80),
            (from_bits(0x3F808000), 0x3F80),  # tie, even below: stays
            (from_bits(0x3F818000), 0x3F82),  # tie, odd below: rounds up
            (from_bits(0x3F808001), 0x3F81),  # above the tie
            (-2.5, 0xC020),
            (3.4e38, 0x7F80),                 # rounds past the largest bfloat16: infinity
            (math.inf, 0x7F80),
            (-math.inf, 0xFF80),
            (0.0, 0x0000),
        ]
        values = np.array([c[0] for c in cases], dtype=np.float32)
        self.assertEqual(float32_to_bf16(values).tolist(), [c[1] for c in cases])
        nan = float32_to_bf16(np.array([math.nan, -math.nan], dtype=np.float32))
        self.assertTrue(np.isnan(bf16_to_float32(nan)).all())
        self.assertEqual(bits(float(bf16_to_float32(np.array([0x3F82], np.uint16))[0])),
                         0x3F820000)

    def test_every_bf16_pattern_survives_a_round_trip_through_float32(self):
        patterns = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
        finite = ~np.isnan(bf16_to_float32(patterns))
        back = float32_to_bf16(bf16_to_float32(patterns))
        np.testing.assert_array_equal(back[finite], patterns[finite])


class EncodeRequest_test(unittest.TestCase):
    def test_binary_inputs_follow_the_json_header_in_order(self):
        a = np.arange(6, dtype=np.int32).reshape(2, 3)
        b = np.array([True, False])
        parts, headers = _kserve.encode_request(
            [WireInput("a", "INT32", (2, 3), data=a), WireInput("b", "BOOL", (2,), data=b)],
            None, request_id="r1", parameters={"timeout": 500})
        header = json.loads(parts[0])
        self.assertEqual(int(headers["Inference-Header-Content-Length"]), len(parts[0]))
        self.assertEqual(headers["Content-Type"], "application/octet-stream")
        self.assertEqual(header["id"], "r1")
        self.assertEqual(header["parameters"], {"timeout": 500, "binary_data_output": True})
        self.assertEqual(header["inputs"][0], {"name": "a", "datatype": "INT32", "shape": [2, 3],
                                               "parameters": {"binary_data_size": 24}})
        self.assertEqual(bytes(parts[1]), a.tobytes())
        self.assertEqual(bytes(parts[2]), b"\x01\x00")
        self.assertNotIn("outputs", header)

    def test_json_mode_sends_data_and_asks_for_json_outputs(self):
        x = np.array([[1.5, -2.0]], dtype=np.float32)
        bf = float32_to_bf16(np.array([0.5], dtype=np.float32))
        parts, headers = _kserve.encode_request(
            [WireInput("x", "FP32", (1, 2), data=x), WireInput("h", "BF16", (1,), data=bf)],
            [WireOutput("y")], binary=False)
        self.assertEqual(len(parts), 1)
        self.assertNotIn("Inference-Header-Content-Length", headers)
        header = json.loads(parts[0])
        self.assertEqual(header["inputs"][0]["data"], [1.5, -2.0])
        self.assertEqual(header["inputs"][1]["data"], [0.5])
        self.assertEqual(header["outputs"], [{"name": "y", "parameters": {"binary_data": False}}])
        with self.assertRaisesRegex(ValueError, "NaN"):
            _kserve.encode_request([WireInput("x", "FP32", (1,),
                                              data=np.array([math.nan], np.float32))],
                                   None, binary=False)

    def test_region_inputs_and_outputs_carry_references_and_no_data(self):
        parts, headers = _kserve.encode_request(
            [WireInput("x", "FP32", (4,), region=RegionRef("r", 64, 16))],
            [WireOutput("y", RegionRef("r", 128, 16)), WireOutput("z")])
        header = json.loads(parts[0])
        self.assertEqual(len(parts), 1)
        self.assertEqual(header["inputs"][0]["parameters"], {
            "shared_memory_region": "r", "shared_memory_byte_size": 16,
            "shared_memory_offset": 64})
        self.assertNotIn("data", header["inputs"][0])
        self.assertEqual(header["outputs"][0]["parameters"]["shared_memory_offset"], 128)
        self.assertEqual(header["outputs"][1]["parameters"], {"binary_data": True})


def response(outputs, binary=b"", **extra):
    document = {"model_name": "m", "model_version": "1", "outputs": outputs, **extra}
    return _kserve.parse_header(json.dumps(document).encode()), binary


def decode(document, binary, **options):
    stream = io.BytesIO(binary)

    def read_into(view):
        view[:] = stream.read(len(view))

    return _kserve.decode_response(document, len(binary), read_into, **options)


class DecodeResponse_test(unittest.TestCase):
    def test_binary_and_json_outputs_in_one_response(self):
        y = np.arange(4, dtype=np.float64).reshape(2, 2)
        document, binary = response(
            [{"name": "y", "datatype": "FP64", "shape": [2, 2],
              "parameters": {"binary_data_size": 32}},
             {"name": "z", "datatype": "FP32", "shape": [3], "data": [1.0, None, 2.0]},
             {"name": "b", "datatype": "BOOL", "shape": [1, 2], "data": [[True, False]]}],
            y.tobytes(), id="abc")
        result = decode(document, binary)
        self.assertEqual(result.id, "abc")
        self.assertEqual((result.model_name, result.model_version), ("m", "1"))
        np.testing.assert_array_equal(result["y"], y)
        self.assertTrue(result["y"].flags.writeable and result["y"].flags.aligned)
        self.assertTrue(math.isnan(result["z"][1]))
        self.assertEqual(result["b"].dtype, np.bool_)
        self.assertEqual(result["b"].tolist(), [[True, False]])

    def test_bf16_outputs_are_float32_unless_raw(self):
        patterns = np.array([0x3F80, 0xC020], dtype=np.uint16)
        document, binary = response([{"name": "h", "datatype": "BF16", "shape": [2],
                                      "parameters": {"binary_data_size": 4}}],
                                    patterns.tobytes())
        result = decode(document, binary)
        self.assertEqual(result["h"].dtype, np.float32)
        self.assertEqual(result["h"].tolist(), [1.0, -2.5])
        self.assertEqual(result.datatypes["h"], "BF16")
        raw = decode(document, binary, raw_bf16=True)
        self.assertEqual(raw["h"].dtype, np.uint16)
        self.assertEqual(raw["h"].tolist(), [0x3F80, 0xC020])

    def test_sizes_that_do_not_add_up_are_protocol_errors(self):
        document, binary = response([{"name": "y", "datatype": "INT32", "shape": [2],
                                      "parameters": {"binary_data_size": 4}}], b"\0" * 4)
        with self.assertRaisesRegex(ProtocolError, "binary_data_size 4 but shape"):
            decode(document, binary)
        document, binary = response([{"name": "y", "datatype": "INT32", "shape": [1],
                                      "parameters": {"binary_data_size": 4}}], b"\0" * 8)
        with self.assertRaisesRegex(ProtocolError, "outputs claim 4"):
            decode(document, binary)
        document, binary = response([{"name": "y", "datatype": "INT32", "shape": [3],
                                      "data": [1, 2]}])
        with self.assertRaisesRegex(ProtocolError, "2 JSON elements"):
            decode(document, binary)
        with self.assertRaisesRegex(ProtocolError, "not valid"):
            _kserve.parse_header(b"{")

    def test_region_outputs_come_from_the_region(self):
        ref = RegionRef("r", 0, 8)
        document, _ = response([{"name": "y", "datatype": "INT32", "shape": [2],
                                 "parameters": {"shared_memory_region": "r"}}])
        backing = np.array([7, 9], dtype=np.int32)
        result = decode(document, b"", regions={"y": ref},
                        region_array=lambda r, dtype, shape: backing.view(dtype).reshape(shape))
        self.assertEqual(result["y"].tolist(), [7, 9])
        document, _ = response([{"name": "y", "datatype": "INT32", "shape": [3],
                                 "parameters": {"shared_memory_region": "r"}}])
        with self.assertRaisesRegex(ProtocolError, "its region holds 8"):
            decode(document, b"", regions={"y": ref}, region_array=lambda *a: None)


class CudaIpcHandle_test(unittest.TestCase):
    """torch's _share_cuda_() handle -> the cudaIpcMemHandle_t the server opens (no GPU needed)."""

    def test_raw_and_versioned_handles(self):
        from infervisor.cuda_shared_memory import ipc_mem_handle
        handle = bytes(range(64))
        self.assertEqual(ipc_mem_handle(handle), handle)  # older torch: the raw handle
        for version in (2, 3):  # torch 2.x: version byte, type 'c' (cudaMalloc), the handle
            self.assertEqual(ipc_mem_handle(bytes([version]) + b"c" + handle), handle)
        with self.assertRaisesRegex(infervisor.SharedMemoryError, "expandable_segments"):
            ipc_mem_handle(b"\x02e" + bytes(100))
        with self.assertRaisesRegex(infervisor.SharedMemoryError, "unexpected"):
            ipc_mem_handle(bytes(10))


if __name__ == "__main__":
    unittest.main()
