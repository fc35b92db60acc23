"""CUDA shared memory (Triton's ``cuda_shared_memory`` extension) for torch CUDA tensors.

A :class:`CudaRegion` is a block of GPU memory this process allocates with torch and exports as a
``cudaIpcMemHandle_t``; the server opens the handle and reads inputs from, and writes outputs to,
the block in place: tensors never leave the GPU.

torch is optional: this module imports it only when a CUDA region is made.

The handle comes from torch's ``UntypedStorage._share_cuda_()`` (what torch.multiprocessing uses),
whose tuple is ``(device, handle, size_bytes, offset_bytes, ref_counter_handle,
ref_counter_offset, event_handle, event_sync_required)``:

- ``handle`` is the raw 64-byte ``cudaIpcMemHandle_t`` in older torch, and in newer torch a
  version byte, a type byte (``'c'``: a cudaMalloc block; ``'e'``: an expandable segment, which
  has no cudaIpcMemHandle_t) and then the 64 bytes.
- The handle names the base of the caching allocator's cudaMalloc block, and ``offset_bytes`` is
  where this storage starts in it: the region is registered with ``byte_size = offset + size`` and
  every tensor reference adds the offset.
- Sharing puts the storage behind a cross-process reference count that a torch consumer would
  decrement; the server is not torch, so :meth:`CudaRegion.close` returns that count itself, or
  the block would be kept alive until the process exits.

``device_id`` is the GPU's index in nvidia-smi order (PCI bus order), which is not torch's index
when ``CUDA_VISIBLE_DEVICES`` or ``CUDA_DEVICE_ORDER`` reorder devices: it is found through the
GPU's UUID in /proc/driver/nvidia/gpus.
"""
from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from ._kserve import RegionRef
from .errors import SharedMemoryError
from .shared_memory import DEFAULT_PREFIX

if TYPE_CHECKING:
    import torch

    from .client import Client

IPC_HANDLE_SIZE = 64  # sizeof(cudaIpcMemHandle_t)
# The worker reads a floating-point input in place only at a 256-byte aligned address (else it
# copies it first), so tensors the client lays out in a scratch region start at such offsets.
CUDA_ALIGNMENT = 256
_CUDA_MALLOC_HANDLE = ord("c")

# KServe datatype -> torch dtype name (torch.uint16 is recent; BF16 is native in torch).
TORCH_DTYPES: Dict[str, str] = {
    "BOOL": "bool", "UINT8": "uint8", "INT8": "int8", "INT16": "int16", "INT32": "int32",
    "INT64": "int64", "FP16": "float16", "BF16": "bfloat16", "FP32": "float32",
    "FP64": "float64",
}


def _align_cuda(offset: int) -> int:
    return (offset + CUDA_ALIGNMENT - 1) // CUDA_ALIGNMENT * CUDA_ALIGNMENT


def ipc_mem_handle(shared: bytes) -> bytes:
    """The 64-byte cudaIpcMemHandle_t inside the handle of ``_share_cuda_()``."""
    if len(shared) == IPC_HANDLE_SIZE:
        return shared
    if len(shared) == IPC_HANDLE_SIZE + 2 and shared[1] == _CUDA_MALLOC_HANDLE:
        return shared[2:]
    if len(shared) >= 2 and shared[1] == ord("e"):
        raise SharedMemoryError(
            "torch allocated this CUDA memory in an expandable segment, which has no "
            "cudaIpcMemHandle_t; unset expandable_segments in PYTORCH_CUDA_ALLOC_CONF")
    raise SharedMemoryError(f"unexpected CUDA IPC handle of {len(shared)} bytes from torch")


def kserve_name_of_torch(dtype: "torch.dtype") -> str:
    """The KServe datatype of a torch dtype (ValueError for those infervisor cannot carry)."""
    name = str(dtype).replace("torch.", "")
    for kserve, torch_name in TORCH_DTYPES.items():
        if torch_name == name:
            return kserve
    raise ValueError(f"torch dtype {dtype} has no KServe datatype infervisor carries")


def nvidia_smi_index(device: "torch.device") -> int:
    """The GPU's index in nvidia-smi order (sorted PCI addresses), found by its UUID."""
    import torch

    index = device.index if device.index is not None else torch.cuda.current_device()
    uuid = str(getattr(torch.cuda.get_device_properties(index), "uuid", "") or "")
    folder = "/proc/driver/nvidia/gpus"
    if uuid:
        try:
            addresses = sorted(os.listdir(folder))
        except OSError:
            addresses = []
        for position, address in enumerate(addresses):
            try:
                with open(os.path.join(folder, address, "information")) as info:
                    text = info.read()
            except OSError:
                continue
            if uuid.replace("GPU-", "") in text:
                return position
    # No driver folder or no UUID: torch's index is right when nothing reorders devices.
    return index


class CudaRegion:
    """A block of GPU memory registered with the server as a CUDA shared-memory region.

    Args:
        byte_size: the block's usable size in bytes.
        device: the torch CUDA device (e.g. ``"cuda:0"`` or ``torch.device("cuda", 1)``).
        name: the region name; default ``<prefix>.<pid>.<random>``.
        device_id: the server's GPU index (nvidia-smi order); default: found from the device.
    """

    def __init__(self, byte_size: int, device: Any = "cuda", *, name: Optional[str] = None,
                 device_id: Optional[int] = None, prefix: str = DEFAULT_PREFIX) -> None:
        import torch

        if byte_size < 1:
            raise ValueError(f"a CUDA region needs at least 1 byte, not {byte_size}")
        self.device = torch.device(device)
        if self.device.type != "cuda":
            raise ValueError(f"a CUDA region needs a CUDA device, not {self.device}")
        self.name = name or f"{prefix}.{os.getpid()}.{secrets.token_hex(8)}"
        self.byte_size = byte_size
        self._buffer: Optional[torch.Tensor] = torch.empty(byte_size, dtype=torch.uint8,
                                                           device=self.device)
        shared = self._buffer.untyped_storage()._share_cuda_()
        self._ref_counter = (shared[4], shared[5])
        self.handle = ipc_mem_handle(shared[1])
        self.base_offset = int(shared[3])
        self.device_id = nvidia_smi_index(self.device) if device_id is None else device_id
        self.address = int(self._buffer.data_ptr())
        self._client: Optional["Client"] = None

    @property
    def registered(self) -> bool:
        return self._client is not None

    def register(self, client: "Client") -> None:
        """``POST /v2/cudasharedmemory/region/{name}/register`` with the raw handle."""
        if self._client is not None:
            raise SharedMemoryError(f"region '{self.name}' is already registered")
        client.register_cuda_shared_memory(self.name, self.handle, self.device_id,
                                           self.base_offset + self.byte_size)
        self._client = client

    def unregister(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.unregister_cuda_shared_memory(self.name)

    def tensor(self, shape: Sequence[int], datatype: str, offset: int = 0) -> "torch.Tensor":
        """A torch view of the block: ``shape`` elements of a KServe ``datatype`` at ``offset``."""
        import torch

        if self._buffer is None:
            raise SharedMemoryError(f"region '{self.name}' is closed")
        dtype = getattr(torch, TORCH_DTYPES[datatype])
        itemsize = torch.empty((), dtype=dtype).element_size()
        count = 1
        for dim in shape:
            count *= int(dim)
        end = offset + count * itemsize
        if offset < 0 or end > self.byte_size:
            raise ValueError(f"{count} {datatype} elements at offset {offset} do not fit region "
                             f"'{self.name}' of {self.byte_size} bytes")
        return self._buffer[offset:end].view(dtype).view(tuple(int(d) for d in shape))

    def ref(self, offset: int, byte_size: int) -> RegionRef:
        """A reference for the server: offsets count from the registered base."""
        return RegionRef(self.name, self.base_offset + offset, byte_size)

    def locate(self, tensor: "torch.Tensor") -> Optional[RegionRef]:
        if self._buffer is None or not tensor.is_contiguous() or tensor.device != self._buffer.device:
            return None
        start = int(tensor.data_ptr())
        nbytes = tensor.numel() * tensor.element_size()
        if self.address <= start and start + nbytes <= self.address + self.byte_size:
            return self.ref(start - self.address, nbytes)
        return None

    def close(self) -> None:
        """Unregisters, returns torch's IPC reference count, and frees the block."""
        import torch

        try:
            self.unregister()
        finally:
            if self._buffer is not None:
                torch.cuda.synchronize(self.device)
                try:
                    torch.UntypedStorage._release_ipc_counter_cuda(*self._ref_counter)
                except Exception:  # best effort, as torch's own consumers do
                    pass
                self._buffer = None

    @property
    def closed(self) -> bool:
        return self._buffer is None

    def __enter__(self) -> "CudaRegion":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CudaSharedMemory:
    """A client's CUDA regions, one scratch region per device, reused across calls."""

    def __init__(self, client: "Client", *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._regions: List[CudaRegion] = []
        self._scratch: Dict[str, CudaRegion] = {}

    def create(self, byte_size: int, device: Any = "cuda", *, name: Optional[str] = None,
               device_id: Optional[int] = None) -> CudaRegion:
        region = CudaRegion(byte_size, device, name=name, device_id=device_id, prefix=self.prefix)
        try:
            region.register(self.client)
        except BaseException:
            region.close()
            raise
        self._regions.append(region)
        return region

    def layout(self, device: "torch.device", sizes: Sequence[int]):
        """(region, offsets) for tensors of ``sizes`` bytes on ``device``, aligned."""
        offsets = []
        end = 0
        for size in sizes:
            offsets.append(end)
            end = _align_cuda(end + size)
        key = str(device)
        region = self._scratch.get(key)
        if region is None or region.closed or region.byte_size < end:
            if region is not None:
                self._release(region)
            size = max(1 << 20, 1 << max(0, (max(end, 1) - 1).bit_length()))
            region = self.create(size, device)
            self._scratch[key] = region
        return region, offsets

    def locate(self, tensor: "torch.Tensor") -> Optional[RegionRef]:
        scratch = set(map(id, self._scratch.values()))
        for region in self._regions:
            if id(region) not in scratch and not region.closed:
                ref = region.locate(tensor)
                if ref is not None:
                    return ref
        return None

    def _release(self, region: CudaRegion) -> None:
        try:
            region.close()
        finally:
            if region in self._regions:
                self._regions.remove(region)

    def close(self) -> None:
        first: Optional[BaseException] = None
        for region in list(self._regions):
            try:
                self._release(region)
            except Exception as error:
                first = first or error
        self._scratch.clear()
        if first is not None:
            raise first

    def __enter__(self) -> "CudaSharedMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
