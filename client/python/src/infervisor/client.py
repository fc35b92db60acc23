"""The infervisor client: KServe v2 / Open Inference Protocol over infervisord's Unix socket.

One :class:`Client` holds one keep-alive connection and serves one thread at a time; use one
client per thread (they are cheap: a connection each).
"""
from __future__ import annotations

import base64
import http.client
import io
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union
from urllib.parse import quote

import numpy as np

from ._dtypes import float32_to_bf16, kserve_name_of, wire_dtype
from ._http import Transport, read_exactly
from ._kserve import (HEADER_LENGTH, InferResult, RegionRef, WireInput, WireOutput,
                      decode_response, element_count, encode_request, parse_header)
from ._socket_path import default_socket_path
from .errors import ProtocolError, ServerError, SharedMemoryError
from .shared_memory import SharedMemory

DEFAULT_TIMEOUT = 60.0
DEFAULT_SHARED_MEMORY_THRESHOLD = 1 << 20
SYSTEM_SHARED_MEMORY = "system_shared_memory"
CUDA_SHARED_MEMORY = "cuda_shared_memory"

TensorLike = Any  # numpy array, torch tensor, or anything numpy.asarray takes


@dataclass(frozen=True)
class Health:
    """``live``: the daemon runs; ``ready``: every model has all its workers ready."""

    live: bool
    ready: bool


def _is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.split(".", 1)[0] == "torch" and hasattr(value, "is_cuda")


@dataclass
class _Input:
    """One input on its way to the wire: host bytes, or a CUDA tensor."""

    wire: WireInput
    cuda: Any = None  # a contiguous torch CUDA tensor when the input lives on a GPU


class Client:
    """A client of infervisord.

    Args:
        socket: the Unix socket path; default: ``$INFERVISOR_SOCKET``, else
            ``/run/infervisor/infervisor.sock`` as root, else
            ``$XDG_RUNTIME_DIR/infervisor/infervisor.sock`` (the daemon's own rules).
        url: ``"http://HOST:PORT"`` to use the daemon's TCP listener instead.
        timeout: seconds to wait for the server on any one socket operation (connect, send, each
            read); None waits forever. An expired timeout raises
            :class:`~infervisor.errors.RequestTimeout` and closes the connection.
        shared_memory_threshold: tensors of at least this many bytes travel through shared
            memory when the server advertises ``system_shared_memory`` and is local; None never
            uses it automatically.

    The connection opens on the first request and is reused (HTTP keep-alive); a connection the
    server closed while idle is replaced transparently.
    """

    def __init__(self, socket: Optional[str] = None, *, url: Optional[str] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT,
                 shared_memory_threshold: Optional[int] = DEFAULT_SHARED_MEMORY_THRESHOLD
                 ) -> None:
        if socket is not None and url is not None:
            raise ValueError("give either socket or url, not both")
        if url is None:
            socket = str(socket) if socket is not None else default_socket_path()
        self._transport = Transport(socket_path=socket, url=url, timeout=timeout)
        self.shared_memory_threshold = shared_memory_threshold
        self._extensions: Optional[Set[str]] = None
        self._metadata: Dict[Tuple[str, Optional[str]], Dict[str, Any]] = {}
        self._shared_memory: Optional[SharedMemory] = None
        self._cuda_shared_memory: Any = None
        self._pools: List[SharedMemory] = []

    # -- connection -----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """``unix:/path`` or ``http://host:port``."""
        return self._transport.describe

    @property
    def connections_opened(self) -> int:
        """How many connections this client has opened (1 while keep-alive holds)."""
        return self._transport.connections_opened

    def close(self) -> None:
        """Unregisters and unlinks the client's own shared memory (``client.shared_memory``, the
        CUDA scratch regions), then closes the connection. SharedMemory objects you made close
        themselves (``with``, or their ``close()``)."""
        try:
            for pool in (self._shared_memory, self._cuda_shared_memory):
                if pool is not None:
                    pool.close()
        finally:
            self._shared_memory = None
            self._cuda_shared_memory = None
            self._transport.close()

    def __repr__(self) -> str:
        return f"infervisor.Client({self.endpoint!r})"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, document: Any = None,
              accept: Sequence[int] = (200,)) -> Tuple[int, Any]:
        """One JSON request; returns (status, parsed body); other statuses raise ServerError."""
        body = [] if document is None else [json.dumps(document).encode()]
        headers = {"Content-Type": "application/json"} if document is not None else {}
        response = self._transport.request(method, path, body, headers)
        try:
            raw = response.read()
        except BaseException:
            self._transport.discard(response)
            raise
        if response.status not in accept:
            raise ServerError.from_body(response.status, raw, method=method, path=path)
        if not raw:
            return response.status, None
        try:
            return response.status, json.loads(raw)
        except ValueError:
            raise ProtocolError(f"{method} {path}: the answer is not JSON: {raw[:80]!r}") from None

    # -- server and models ----------------------------------------------------------------------
    def health(self) -> Health:
        """Liveness and readiness (``/v2/health/live`` and ``/v2/health/ready``)."""
        live, _ = self._call("GET", "/v2/health/live", accept=(200, 503))
        ready, _ = self._call("GET", "/v2/health/ready", accept=(200, 503))
        return Health(live=live == 200, ready=ready == 200)

    def server_metadata(self) -> Dict[str, Any]:
        """``GET /v2``: name, version and extensions."""
        return self._call("GET", "/v2")[1]

    @property
    def extensions(self) -> Set[str]:
        """The protocol extensions the server advertises (asked once, then remembered)."""
        if self._extensions is None:
            self._extensions = set(self.server_metadata().get("extensions", []))
        return self._extensions

    def models(self, ready_only: bool = False) -> List[Dict[str, Any]]:
        """The repository index: ``[{"name", "version", "state"}]``."""
        document = {"ready": True} if ready_only else {}
        return self._call("POST", "/v2/repository/index", document)[1]

    def metadata(self, model: str, version: Optional[str] = None) -> Dict[str, Any]:
        """Model metadata: ``inputs`` and ``outputs`` with ``datatype`` and ``shape`` (-1: any)."""
        document = self._call("GET", self._model_path(model, version))[1]
        self._metadata[(model, version)] = document
        return document

    def model_ready(self, model: str, version: Optional[str] = None) -> bool:
        """True if at least one worker of the model is ready (404 for an unknown model raises)."""
        status, _ = self._call("GET", self._model_path(model, version) + "/ready",
                               accept=(200, 503))
        return status == 200

    @staticmethod
    def _model_path(model: str, version: Optional[str]) -> str:
        path = "/v2/models/" + quote(model, safe="")
        if version is not None:
            path += "/versions/" + quote(str(version), safe="")
        return path

    def _cached_metadata(self, model: str, version: Optional[str]) -> Dict[str, Any]:
        cached = self._metadata.get((model, version))
        return cached if cached is not None else self.metadata(model, version)

    # -- shared-memory endpoints ----------------------------------------------------------------
    def register_system_shared_memory(self, name: str, key: str, byte_size: int,
                                      offset: int = 0) -> None:
        """Registers POSIX shm object ``key`` (e.g. ``/myshm``) as region ``name``."""
        self._call("POST", f"/v2/systemsharedmemory/region/{quote(name, safe='')}/register",
                   {"key": key, "offset": offset, "byte_size": byte_size})

    def unregister_system_shared_memory(self, name: Optional[str] = None) -> None:
        """Unregisters region ``name``, or all of this uid's system regions."""
        path = "/v2/systemsharedmemory"
        if name is not None:
            path += f"/region/{quote(name, safe='')}"
        self._call("POST", path + "/unregister", {})

    def system_shared_memory_status(self, name: Optional[str] = None) -> List[Dict[str, Any]]:
        """``[{"name", "key", "offset", "byte_size"}]`` for this uid's system regions."""
        path = "/v2/systemsharedmemory"
        if name is not None:
            path += f"/region/{quote(name, safe='')}"
        return self._call("GET", path + "/status")[1]

    def register_cuda_shared_memory(self, name: str, raw_handle: bytes, device_id: int,
                                    byte_size: int) -> None:
        """Registers GPU memory exported as a ``cudaIpcMemHandle_t`` as region ``name``."""
        self._call("POST", f"/v2/cudasharedmemory/region/{quote(name, safe='')}/register",
                   {"raw_handle": {"b64": base64.b64encode(raw_handle).decode()},
                    "device_id": device_id, "byte_size": byte_size})

    def unregister_cuda_shared_memory(self, name: Optional[str] = None) -> None:
        path = "/v2/cudasharedmemory"
        if name is not None:
            path += f"/region/{quote(name, safe='')}"
        self._call("POST", path + "/unregister", {})

    def cuda_shared_memory_status(self, name: Optional[str] = None) -> List[Dict[str, Any]]:
        """``[{"name", "device_id", "byte_size"}]`` for this uid's CUDA regions."""
        path = "/v2/cudasharedmemory"
        if name is not None:
            path += f"/region/{quote(name, safe='')}"
        return self._call("GET", path + "/status")[1]

    @property
    def shared_memory(self) -> SharedMemory:
        """The client's own :class:`SharedMemory` (``infer``'s scratch regions live there)."""
        if self._shared_memory is None:
            self._shared_memory = SharedMemory(self)
        return self._shared_memory

    def _adopt_shared_memory(self, pool: SharedMemory) -> None:
        """Called by SharedMemory: arrays in any of the client's pools are sent by reference."""
        self._pools = [p for p in self._pools if p is not pool] + [pool]

    def _forget_shared_memory(self, pool: SharedMemory) -> None:
        self._pools = [p for p in self._pools if p is not pool]

    def _locate(self, array: np.ndarray) -> Optional[RegionRef]:
        for pool in self._pools:
            ref = pool.locate(array)
            if ref is not None:
                return ref
        return None

    def _cuda_pool(self) -> Any:
        if self._cuda_shared_memory is None:
            from .cuda_shared_memory import CudaSharedMemory
            self._cuda_shared_memory = CudaSharedMemory(self)
        return self._cuda_shared_memory

    # -- inference ------------------------------------------------------------------------------
    def infer(self, model: str, inputs: Mapping[str, TensorLike],
              outputs: Optional[Sequence[str]] = None, *,
              version: Optional[str] = None,
              id: Optional[str] = None,  # noqa: A002 - the protocol's name
              timeout_us: Optional[int] = None,
              datatypes: Optional[Mapping[str, str]] = None,
              raw_bf16: bool = False,
              binary: bool = True,
              shared_memory: Optional[bool] = None,
              out: Optional[Mapping[str, Any]] = None,
              shm_views: bool = False,
              parameters: Optional[Mapping[str, Any]] = None) -> InferResult:
        """Runs one inference; returns the outputs by name (an :class:`InferResult`, a dict).

        Args:
            model: the model's name; ``version`` picks a version (default: the served one).
            inputs: tensors by input name: numpy arrays (their dtype is the datatype), torch
                tensors (CPU, or CUDA: see below), or anything ``numpy.asarray`` takes (then the
                model's declared datatype is used).
            outputs: the outputs to return (default: all).
            id: the request id; the server echoes it (``result.id``).
            timeout_us: the server-side deadline in microseconds (request parameter
                ``timeout``, as Triton's).
            datatypes: KServe datatypes by input name, to convert: ``{"x": "BF16"}`` sends a
                float32 array as bfloat16 (round to nearest even), or a uint16 array as raw
                bfloat16 bit patterns.
            raw_bf16: return BF16 outputs as their uint16 bit patterns (default: float32, as
                numpy has no bfloat16; ``result.datatypes`` still says BF16).
            binary: the binary tensor data extension (default); False sends and asks for JSON.
            shared_memory: None (default) uses system shared memory for tensors of at least
                ``shared_memory_threshold`` bytes when the server offers it and is local; True
                requires it for every tensor it can place (raises SharedMemoryError if the server
                does not offer it); False never uses it.
            out: arrays to receive outputs by name, each a view of a :class:`SharedMemory`
                region (``region.ndarray(...)``): the server writes the output straight into it
                and the result holds a view of it.
            shm_views: outputs that came through the client's scratch region are returned as
                views of it instead of copies: no copy, but valid only until the next ``infer``.
            parameters: more request parameters, sent as they are.

        A torch CUDA tensor input travels through a CUDA shared-memory region on its GPU when the
        server offers ``cuda_shared_memory`` (outputs of a predictable size then come back as
        torch tensors on that GPU); otherwise it is copied to the host and sent as bytes.

        Raises:
            ServerError: the server refused or failed the request (``status``, ``message``).
            ConnectionFailed, RequestTimeout, ProtocolError, SharedMemoryError.
        """
        if id is not None and not isinstance(id, str):
            raise TypeError(f"id must be a string, not {type(id).__name__}")
        datatypes = dict(datatypes or {})
        request_parameters: Dict[str, Any] = dict(parameters or {})
        if timeout_us is not None:
            request_parameters["timeout"] = int(timeout_us)

        prepared = [self._prepare_input(model, version, name, value, datatypes.get(name))
                    for name, value in inputs.items()]
        unknown = set(datatypes) - set(inputs)
        if unknown:
            raise ValueError(f"datatypes names {sorted(unknown)}, which are not among the inputs")

        plan = _RegionPlan()
        self._plan_shared_memory(model, version, prepared, outputs, out or {}, shared_memory,
                                 plan)
        wire_outputs = None
        if plan.output_names is not None:
            wire_outputs = [WireOutput(name, plan.output_refs.get(name))
                            for name in plan.output_names]
        parts, headers = encode_request([p.wire for p in prepared], wire_outputs, binary=binary,
                                        request_id=id, parameters=request_parameters)
        path = self._model_path(model, version) + "/infer"
        if plan.cuda_inputs:
            import torch
            for device in {t.device for t in plan.cuda_inputs}:
                torch.cuda.synchronize(device)
        response = self._transport.request("POST", path, parts, headers)
        try:
            return self._read_infer_response(response, path, raw_bf16, plan, shm_views)
        except BaseException:
            if not response.isclosed():  # stopped mid-body: the connection's state is unknown
                self._transport.discard(response)
            raise

    def _prepare_input(self, model: str, version: Optional[str], name: str, value: TensorLike,
                       datatype: Optional[str]) -> _Input:
        if _is_torch_tensor(value):
            if value.is_cuda and (self._transport.is_local and
                                  CUDA_SHARED_MEMORY in self.extensions):
                from .cuda_shared_memory import kserve_name_of_torch
                natural = kserve_name_of_torch(value.dtype)
                if datatype is not None and datatype != natural:
                    raise ValueError(f"input '{name}': a CUDA tensor of {value.dtype} is sent as "
                                     f"{natural}, not {datatype} (convert it with .to() first)")
                tensor = value.detach().contiguous()
                return _Input(WireInput(name, natural, tuple(tensor.shape)), cuda=tensor)
            value = _torch_to_numpy(value)
            if isinstance(value, tuple):  # bfloat16 bit patterns
                value, natural = value
                datatype = datatype or natural
        if not isinstance(value, np.ndarray):
            array = np.asarray(value)
            if datatype is None:
                declared = {t["name"]: t["datatype"]
                            for t in self._cached_metadata(model, version).get("inputs", [])}
                datatype = declared.get(name)
                if datatype is None:
                    raise ValueError(f"model '{model}' has no input '{name}'")
        else:
            array = value
        if datatype is None:
            datatype = kserve_name_of(array.dtype)
            data = array
        elif datatype == "BF16":
            if array.dtype == np.uint16:
                data = array
            elif array.dtype.kind in "fiub":
                data = float32_to_bf16(array)
            else:
                raise ValueError(f"input '{name}': {array.dtype} cannot be sent as BF16")
        else:
            try:  # float64 -> FP32 yes, float -> INT64 (truncation) no
                data = array.astype(wire_dtype(datatype), casting="same_kind", copy=False)
            except TypeError:
                raise ValueError(f"input '{name}': {array.dtype} values cannot be sent as "
                                 f"{datatype} without losing their kind (convert them first)"
                                 ) from None
        wire = wire_dtype(datatype)
        if data.dtype != wire or not data.flags.c_contiguous:
            data = np.ascontiguousarray(data, dtype=wire)
        return _Input(WireInput(name, datatype, tuple(int(d) for d in data.shape), data=data))

    def _shared_memory_allowed(self, shared_memory: Optional[bool]) -> bool:
        if shared_memory is False:
            return False
        if shared_memory is None and self.shared_memory_threshold is None:
            return False
        available = self._transport.is_local and SYSTEM_SHARED_MEMORY in self.extensions
        if shared_memory and not available:
            where = "is not local" if not self._transport.is_local else \
                "does not advertise system_shared_memory in GET /v2"
            raise SharedMemoryError(f"shared_memory=True but the server at {self.endpoint} "
                                    f"{where}")
        return available

    def _plan_shared_memory(self, model: str, version: Optional[str], prepared: List[_Input],
                            outputs: Optional[Sequence[str]], out: Mapping[str, Any],
                            shared_memory: Optional[bool], plan: "_RegionPlan") -> None:
        """Decides which tensors go through regions, and copies inputs into them."""
        plan.output_names = list(outputs) if outputs is not None else None
        cuda = [p for p in prepared if p.cuda is not None]
        if cuda:
            self._plan_cuda(model, version, prepared, cuda, plan)
        threshold = 0 if shared_memory else (self.shared_memory_threshold or 0)

        # Arrays the caller placed in regions are referenced, whatever `shared_memory` says.
        for item in prepared:
            if item.wire.data is not None and self._pools:
                ref = self._locate(item.wire.data)
                if ref is not None:
                    item.wire.region, item.wire.data = ref, None
        for name, array in out.items():
            ref = self._locate(array) if isinstance(array, np.ndarray) else None
            if ref is None:
                raise ValueError(f"out['{name}'] is not a contiguous view of a SharedMemory "
                                 f"region of this client")
            plan.output_refs[name] = ref
            plan.out_arrays[name] = array
        if plan.output_refs and plan.output_names is None:
            plan.output_names = [o["name"] for o in
                                 self._cached_metadata(model, version).get("outputs", [])]
        if plan.output_names is not None:
            plan.output_names += [name for name in out if name not in plan.output_names]
        if not self._shared_memory_allowed(shared_memory):
            return

        to_copy = [(p, p.wire.data) for p in prepared if p.wire.data is not None and
                   p.wire.data.nbytes and p.wire.data.nbytes >= threshold]
        predicted: Dict[str, int] = {}
        if not plan.cuda_outputs:
            meta = self._cached_metadata(model, version)
            names = plan.output_names if plan.output_names is not None else \
                [o["name"] for o in meta.get("outputs", [])]
            for name, size in _predict_output_bytes(meta, prepared).items():
                if name in names and name not in plan.output_refs and size is not None and \
                        size and size >= threshold:
                    predicted[name] = size
            if predicted and plan.output_names is None:
                plan.output_names = names
        if not to_copy and not predicted:
            return
        sizes = [data.nbytes for _, data in to_copy] + list(predicted.values())
        region, offsets = self.shared_memory.layout(sizes)
        for (item, data), offset in zip(to_copy, offsets):
            np.copyto(region.ndarray(data.shape, data.dtype, offset), data)
            item.wire.region = region.ref(offset, data.nbytes)
            item.wire.data = None
        for (name, size), offset in zip(predicted.items(), offsets[len(to_copy):]):
            plan.output_refs[name] = region.ref(offset, size)
            plan.scratch_outputs[name] = region

    def _plan_cuda(self, model: str, version: Optional[str], prepared: List[_Input],
                   cuda: List[_Input], plan: "_RegionPlan") -> None:
        pool = self._cuda_pool()
        device = cuda[0].cuda.device
        if any(item.cuda.device != device for item in cuda):
            raise ValueError(f"CUDA inputs on {sorted({str(i.cuda.device) for i in cuda})}: a "
                             f"job's CUDA tensors must be on one GPU")
        to_copy = []
        for item in cuda:
            ref = pool.locate(item.cuda)
            if ref is not None:
                item.wire.region = ref
            else:
                to_copy.append(item)
            plan.cuda_inputs.append(item.cuda)
        meta = self._cached_metadata(model, version)
        names = plan.output_names if plan.output_names is not None else \
            [o["name"] for o in meta.get("outputs", [])]
        predicted = {name: size for name, size in _predict_output_bytes(meta, prepared).items()
                     if name in names and size}
        sizes = [i.cuda.numel() * i.cuda.element_size() for i in to_copy] + list(predicted.values())
        if not sizes:
            return
        region, offsets = pool.layout(device, sizes)
        for item, offset in zip(to_copy, offsets):
            nbytes = item.cuda.numel() * item.cuda.element_size()
            target = region.tensor(item.cuda.shape, item.wire.datatype, offset)
            target.copy_(item.cuda)
            item.wire.region = region.ref(offset, nbytes)
        for (name, size), offset in zip(predicted.items(), offsets[len(to_copy):]):
            plan.output_refs[name] = region.ref(offset, size)
            plan.cuda_outputs[name] = (region, offset)
        if predicted and plan.output_names is None:
            plan.output_names = names

    def _read_infer_response(self, response: http.client.HTTPResponse, path: str,
                             raw_bf16: bool, plan: "_RegionPlan", views: bool) -> InferResult:
        if response.status != 200:
            raise ServerError.from_body(response.status, response.read(), method="POST",
                                        path=path)
        header_length = response.getheader(HEADER_LENGTH)
        total = response.length
        reader: Any = response
        if total is None:  # chunked: rare, read it all
            body = response.read()
            total = len(body)
            reader = io.BytesIO(body)
        if header_length is None:
            json_bytes = total
        else:
            try:
                json_bytes = int(header_length)
            except ValueError:
                raise ProtocolError(f"{HEADER_LENGTH} '{header_length}' is not a number") from None
            if not 0 <= json_bytes <= total:
                raise ProtocolError(f"{HEADER_LENGTH} {json_bytes} is beyond the {total}-byte body")
        header = bytearray(json_bytes)
        read_exactly(reader, memoryview(header))
        document = parse_header(bytes(header))

        def region_array(ref: RegionRef, dtype: np.dtype, shape: Tuple[int, ...]) -> Any:
            name = next(n for n, r in plan.output_refs.items() if r is ref)
            if name in plan.cuda_outputs:
                region, offset = plan.cuda_outputs[name]
                tensor = region.tensor(shape, datatype_of[name], offset)
                return tensor if views else tensor.clone()
            if name in plan.out_arrays:
                target = plan.out_arrays[name]
                count = element_count(shape)
                return target.reshape(-1).view(np.uint8)[:count * dtype.itemsize] \
                    .view(dtype).reshape(shape)
            region = plan.scratch_outputs[name]
            array = region.ndarray(shape, dtype, ref.offset)
            return array if views else array.copy()

        datatype_of = {o.get("name"): o.get("datatype") for o in document.get("outputs", [])
                       if isinstance(o, dict)}
        return decode_response(document, total - json_bytes,
                               lambda into: read_exactly(reader, into), raw_bf16=raw_bf16,
                               regions=plan.output_refs, region_array=region_array)


@dataclass
class _RegionPlan:
    """Where one call's tensors go: which outputs are asked for, and in which regions."""

    output_names: Optional[List[str]] = None
    output_refs: Dict[str, RegionRef] = None  # type: ignore[assignment]
    scratch_outputs: Dict[str, Any] = None  # type: ignore[assignment]
    out_arrays: Dict[str, np.ndarray] = None  # type: ignore[assignment]
    cuda_outputs: Dict[str, Any] = None  # type: ignore[assignment]
    cuda_inputs: List[Any] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.output_refs = {}
        self.scratch_outputs = {}
        self.out_arrays = {}
        self.cuda_outputs = {}
        self.cuda_inputs = []


def _torch_to_numpy(tensor: Any) -> Union[np.ndarray, Tuple[np.ndarray, str]]:
    """A CPU copy of a torch tensor as numpy; bfloat16 as (uint16 bit patterns, "BF16")."""
    import torch

    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(np.uint16), "BF16"
    return tensor.resolve_conj().numpy()


def _predict_output_bytes(meta: Mapping[str, Any],
                          prepared: Sequence[_Input]) -> Dict[str, Optional[int]]:
    """Each output's byte size if its declared shape fixes it, with a leading -1 taken as the
    batch size when every input declared with a leading -1 has the same first dimension."""
    shapes = {p.wire.name: p.wire.shape for p in prepared}
    batch: Optional[int] = None
    consistent = True
    for spec in meta.get("inputs", []):
        dims = spec.get("shape", [])
        shape = shapes.get(spec.get("name"))
        if dims and dims[0] == -1 and shape:
            if batch is None:
                batch = shape[0]
            elif batch != shape[0]:
                consistent = False
    predicted: Dict[str, Optional[int]] = {}
    for spec in meta.get("outputs", []):
        dims = list(spec.get("shape", []))
        if dims and dims[0] == -1 and batch is not None and consistent:
            dims[0] = batch
        try:
            itemsize = wire_dtype(spec.get("datatype", "")).itemsize
        except ValueError:
            predicted[spec.get("name")] = None
            continue
        predicted[spec.get("name")] = None if any(d < 0 for d in dims) else \
            element_count(dims) * itemsize
    return predicted
