"""A small KServe v2 server in Python, for what the real daemon cannot show (yet):

- transport behaviour: a server that closes idle connections without saying so, one that never
  answers;
- the shared-memory extensions as issue 10 specifies them, with one identity model ``echo``
  (``x`` -> ``y``, any datatype and shape), so the client's region handling runs end to end
  before infervisord implements the endpoints.

It follows the protocol, not infervisord's code; the daemon's own tests are the judge of the
daemon. Serves a Unix socket from a thread; one handler thread per connection.
"""
from __future__ import annotations

import json
import mmap
import os
import socketserver
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional

import numpy as np

from infervisor._dtypes import wire_dtype


class _Region:
    def __init__(self, key: str, offset: int, byte_size: int) -> None:
        path = "/dev/shm/" + key.lstrip("/")
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        try:
            size = os.fstat(fd).st_size
            if offset + byte_size > size:
                raise ValueError(f"offset {offset} + byte_size {byte_size} exceeds the object's "
                                 f"{size} bytes")
            self.map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.key, self.offset, self.byte_size = key, offset, byte_size

    def view(self, offset: int, size: int) -> memoryview:
        if offset < 0 or offset + size > self.byte_size:
            raise ValueError(f"{size} bytes at offset {offset} exceed the region's "
                             f"{self.byte_size}")
        start = self.offset + offset
        return memoryview(self.map)[start:start + size]


class FakeServer:
    """Start with ``with FakeServer(...) as server:``; ``server.socket`` is its path."""

    def __init__(self, *, shared_memory: bool = True, close_after_each: bool = False,
                 echo_shape: Optional[List[int]] = None, echo_datatype: str = "FP32") -> None:
        self.folder = tempfile.mkdtemp(prefix="infervisor-fake-")
        self.socket = os.path.join(self.folder, "fake.sock")
        self.shared_memory = shared_memory
        self.close_after_each = close_after_each
        # The shape `echo` declares: with [-1, N] the client can size outputs from the batch.
        self.echo_shape = echo_shape or [-1, -1]
        self.echo_datatype = echo_datatype
        self.regions: Dict[str, _Region] = {}
        self.requests: List[Dict[str, Any]] = []  # infer request headers, as parsed
        self.connections = 0
        self.release_hang = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(_Handler):
            fake = server

        class Server(socketserver.ThreadingUnixStreamServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that left (a test's timeout) is no failure of the fake

        self._server = Server(self.socket, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> "FakeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release_hang.set()
        self._server.shutdown()
        self._server.server_close()
        for region in self.regions.values():
            region.map.close()
        os.unlink(self.socket)
        os.rmdir(self.folder)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeServer

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake.connections += 1

    def log_message(self, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def _reply(self, status: int, document: Any = None, *, body: Optional[bytes] = None,
               headers: Optional[Dict[str, str]] = None) -> None:
        payload = body if body is not None else json.dumps(document).encode()
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        if self.fake.close_after_each:
            self.close_connection = True  # and no "Connection: close": a silent idle close

    def _error(self, status: int, message: str) -> None:
        self._reply(status, {"error": message})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = [p for p in self.path.split("/") if p]
        if parts == ["v2"]:
            extensions = ["binary_tensor_data"]
            if self.fake.shared_memory:
                extensions.append("system_shared_memory")
            return self._reply(200, {"name": "fake", "version": "0", "extensions": extensions})
        if parts in (["v2", "health", "live"], ["v2", "health", "ready"]):
            return self._reply(200, {})
        if parts == ["v2", "models", "echo"]:
            spec = {"name": "x", "datatype": self.fake.echo_datatype,
                    "shape": self.fake.echo_shape}
            return self._reply(200, {"name": "echo", "inputs": [spec],
                                     "outputs": [dict(spec, name="y")]})
        if parts == ["v2", "hang"]:
            self.fake.release_hang.wait()
            return self._reply(200, {})
        if parts[:2] == ["v2", "systemsharedmemory"] and parts[-1] == "status":
            names = [parts[3]] if len(parts) == 5 else sorted(self.fake.regions)
            if any(n not in self.fake.regions for n in names):
                return self._error(400, f"no region '{names[0]}'")
            return self._reply(200, [{"name": n, "key": self.fake.regions[n].key,
                                      "offset": self.fake.regions[n].offset,
                                      "byte_size": self.fake.regions[n].byte_size}
                                     for n in names])
        self._error(404, f"no endpoint at '{self.path}'")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = [p for p in self.path.split("/") if p]
        try:
            if parts[:2] == ["v2", "systemsharedmemory"]:
                return self._shared_memory(parts, body)
            if parts == ["v2", "models", "echo", "infer"]:
                return self._infer(body)
        except (ValueError, KeyError, OSError) as error:
            return self._error(400, str(error))
        self._error(404, f"no endpoint at '{self.path}'")

    def _shared_memory(self, parts: List[str], body: bytes) -> None:
        if not self.fake.shared_memory:
            return self._error(404, "shared memory is off")
        regions = self.fake.regions
        if len(parts) == 5 and parts[4] == "register":
            if parts[3] in regions:
                return self._error(400, f"region '{parts[3]}' is already registered")
            request = json.loads(body)
            regions[parts[3]] = _Region(request["key"], request.get("offset", 0),
                                        request["byte_size"])
            return self._reply(200, {})
        if parts[-1] == "unregister":
            names = [parts[3]] if len(parts) == 5 else list(regions)
            for name in names:
                region = regions.pop(name, None)
                if region is not None:
                    region.map.close()
            return self._reply(200, {})
        self._error(404, f"no endpoint at '{self.path}'")

    def _infer(self, body: bytes) -> None:
        length = self.headers.get("Inference-Header-Content-Length")
        json_bytes = int(length) if length is not None else len(body)
        request = json.loads(body[:json_bytes])
        self.fake.requests.append(request)
        cursor = json_bytes
        (tensor,) = request["inputs"]
        dtype = wire_dtype(tensor["datatype"])
        parameters = tensor.get("parameters", {})
        count = int(np.prod(tensor["shape"], dtype=np.int64))
        if "shared_memory_region" in parameters:
            region = self.fake.regions[parameters["shared_memory_region"]]
            size = parameters["shared_memory_byte_size"]
            if size != count * dtype.itemsize:
                raise ValueError(f"shared_memory_byte_size {size} does not match the shape")
            data = bytes(region.view(parameters.get("shared_memory_offset", 0), size))
        elif "binary_data_size" in parameters:
            data = body[cursor:cursor + parameters["binary_data_size"]]
            cursor += len(data)
        else:
            data = np.array(tensor["data"], dtype=dtype).tobytes()
        output: Dict[str, Any] = {"name": "y", "datatype": tensor["datatype"],
                                  "shape": tensor["shape"]}
        wanted = (request.get("outputs") or [{"name": "y", "parameters": {
            "binary_data": request.get("parameters", {}).get("binary_data_output", False)}}])[0]
        out_parameters = wanted.get("parameters", {})
        binary = b""
        if "shared_memory_region" in out_parameters:
            region = self.fake.regions[out_parameters["shared_memory_region"]]
            if out_parameters["shared_memory_byte_size"] < len(data):
                raise ValueError("output region too small")
            region.view(out_parameters.get("shared_memory_offset", 0), len(data))[:] = data
            output["parameters"] = {"shared_memory_region": out_parameters["shared_memory_region"]}
        elif out_parameters.get("binary_data"):
            output["parameters"] = {"binary_data_size": len(data)}
            binary = data
        else:
            output["data"] = np.frombuffer(data, dtype=dtype).tolist()
        header = {"model_name": "echo", "model_version": "1", "outputs": [output]}
        if "id" in request:
            header["id"] = request["id"]
        encoded = json.dumps(header).encode()
        self._reply(200, body=encoded + binary, headers={
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(encoded))})
