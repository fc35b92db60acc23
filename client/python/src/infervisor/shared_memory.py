"""System shared memory (Triton's ``system_shared_memory`` extension) from the client's side.

A :class:`SystemRegion` is one POSIX shared-memory object this process creates under /dev/shm
(``O_CREAT | O_EXCL``, mode 0600, so it is never someone else's object and nobody else can read
it), maps, and registers with the server under a region name. An input in a region is sent as a
reference (``shared_memory_region``, ``shared_memory_offset``, ``shared_memory_byte_size``) instead
of its bytes, and the server writes an output asked for in a region straight into it.

:class:`SharedMemory` holds a client's regions: it creates them on demand, reuses them from call
to call (registration costs a round trip and the server maps the object once), and on
:meth:`~SharedMemory.close` or at the end of a ``with`` block unregisters and unlinks them all.

multiprocessing.shared_memory is not used: its resource tracker unlinks objects when *any*
process that attached them exits, behind the owner's back.

If the process is killed, its objects stay in /dev/shm; the next :class:`SharedMemory` with the
same prefix unlinks those whose creating process is gone (the name holds its pid).
"""
from __future__ import annotations

import mmap
import os
import secrets
import weakref
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._kserve import RegionRef
from .errors import SharedMemoryError

if TYPE_CHECKING:
    from .client import Client

SHM_FOLDER = "/dev/shm"
DEFAULT_PREFIX = "ivpy"
# Tensors laid out in a region start on this boundary (a cache line; enough for every dtype).
ALIGNMENT = 64


def align(offset: int) -> int:
    return (offset + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class SystemRegion:
    """One POSIX shared-memory object of this process: created, mapped, optionally registered.

    Args:
        byte_size: its size (at least 1).
        name: the region name the server knows it by; default: the object's name.
        prefix: the object's name starts ``<prefix>.<pid>.``; the rest is random.

    The object is ``/dev/shm/<key without the slash>``; ``key`` (``/<name>``) is what
    ``shm_open`` and the server take. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, byte_size: int, *, name: Optional[str] = None,
                 prefix: str = DEFAULT_PREFIX) -> None:
        if byte_size < 1:
            raise ValueError(f"a shared-memory region needs at least 1 byte, not {byte_size}")
        if "/" in prefix or not prefix:
            raise ValueError(f"prefix '{prefix}' must be a non-empty name without '/'")
        object_name = f"{prefix}.{os.getpid()}.{secrets.token_hex(8)}"
        self.key = "/" + object_name
        self.name = name or object_name
        self.byte_size = byte_size
        self.path = os.path.join(SHM_FOLDER, object_name)
        self._client: Optional["Client"] = None
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as error:
            raise SharedMemoryError(f"cannot create shared-memory object {self.path}: "
                                    f"{error.strerror}", cause=error) from None
        # Unlinked even if this object is dropped without close() (it cannot unregister then).
        self._unlink = weakref.finalize(self, _unlink_quietly, self.path)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask did
            os.ftruncate(fd, byte_size)
            self._map = mmap.mmap(fd, byte_size, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as error:
            self._unlink()
            raise SharedMemoryError(f"cannot size or map shared-memory object {self.path} "
                                    f"({byte_size} bytes): {error.strerror}",
                                    cause=error) from None
        finally:
            os.close(fd)
        self._bytes: Optional[np.ndarray] = np.frombuffer(self._map, dtype=np.uint8)
        self.address = int(self._bytes.__array_interface__["data"][0])

    # -- the server's side ----------------------------------------------------------------------
    @property
    def registered(self) -> bool:
        return self._client is not None

    def register(self, client: "Client") -> None:
        """Registers the region with the server (``POST .../region/{name}/register``)."""
        if self._client is not None:
            raise SharedMemoryError(f"region '{self.name}' is already registered")
        client.register_system_shared_memory(self.name, self.key, self.byte_size)
        self._client = client

    def unregister(self) -> None:
        """Unregisters the region from the server it was registered with (if any)."""
        client, self._client = self._client, None
        if client is not None:
            client.unregister_system_shared_memory(self.name)

    # -- the memory -----------------------------------------------------------------------------
    def ndarray(self, shape: Sequence[int], dtype: Any, offset: int = 0) -> np.ndarray:
        """A numpy view of the region: ``shape`` elements of ``dtype`` starting at ``offset``.

        Writing into it writes the shared memory; an input given to ``Client.infer`` as such a
        view is sent by reference (no copy at all).
        """
        if self._bytes is None:
            raise SharedMemoryError(f"region '{self.name}' is closed")
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
        end = offset + count * dtype.itemsize
        if offset < 0 or end > self.byte_size:
            raise ValueError(f"{count} elements of {dtype} at offset {offset} do not fit region "
                             f"'{self.name}' of {self.byte_size} bytes")
        return self._bytes[offset:end].view(dtype).reshape(tuple(shape))

    def locate(self, array: np.ndarray) -> Optional[RegionRef]:
        """The reference to ``array``'s bytes if it is a C-contiguous view of this region."""
        if self._bytes is None or not array.flags.c_contiguous:
            return None
        start = int(array.__array_interface__["data"][0])
        if self.address <= start and start + array.nbytes <= self.address + self.byte_size:
            return RegionRef(self.name, start - self.address, array.nbytes)
        return None

    def ref(self, offset: int, byte_size: int) -> RegionRef:
        return RegionRef(self.name, offset, byte_size)

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Unregisters (if registered), unlinks the object and unmaps it.

        Arrays still viewing the region keep the mapping alive until they are gone (the memory
        stays valid for them); the name is unlinked at once either way.
        """
        try:
            self.unregister()
        finally:
            self._unlink()
            self._bytes = None
            try:
                self._map.close()
            except BufferError:
                pass  # views remain; the mapping goes with the last of them

    @property
    def closed(self) -> bool:
        return self._bytes is None

    def __enter__(self) -> "SystemRegion":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("registered" if self.registered else "local")
        return f"SystemRegion(name={self.name!r}, key={self.key!r}, {self.byte_size} bytes, {state})"


def remove_stale_objects(prefix: str = DEFAULT_PREFIX, folder: str = SHM_FOLDER) -> List[str]:
    """Unlinks ``<prefix>.<pid>.*`` objects of this uid whose process is gone; returns them."""
    removed: List[str] = []
    start = prefix + "."
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for entry in names:
        if not entry.startswith(start):
            continue
        pid_text = entry[len(start):].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        path = os.path.join(folder, entry)
        try:
            if os.lstat(path).st_uid != os.geteuid():
                continue
            os.kill(int(pid_text), 0)
            continue  # alive
        except ProcessLookupError:
            pass
        except OSError:
            continue  # alive but not ours to signal, or gone from the folder
        _unlink_quietly(path)
        removed.append(entry)
    return removed


class SharedMemory:
    """A client's system shared-memory regions, created on demand and reused across calls.

    ``Client.infer`` uses the client's own instance (``client.shared_memory``) for tensors at or
    above its threshold. Create more to hold tensors you fill in place::

        with infervisor.SharedMemory(client) as shm:
            region = shm.create(nbytes)
            x = region.ndarray((32, 3, 224, 224), np.float32)  # fill x in place ...
            y = client.infer("resnet", {"x": x})["y"]          # ... x is sent by reference

    Closing (or leaving the ``with`` block) unregisters and unlinks every region it created.
    Like a Client, one instance serves one thread at a time.
    """

    def __init__(self, client: "Client", *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._regions: List[SystemRegion] = []
        self._scratch: Optional[SystemRegion] = None
        self._cleaned = False
        client._adopt_shared_memory(self)

    @property
    def regions(self) -> List[SystemRegion]:
        """The open regions, the scratch region included."""
        return [r for r in self._regions if not r.closed]

    def create(self, byte_size: int, *, name: Optional[str] = None) -> SystemRegion:
        """A new region of ``byte_size`` bytes, registered with the server."""
        if not self._cleaned:
            remove_stale_objects(self.prefix)
            self._cleaned = True
        region = SystemRegion(byte_size, name=name, prefix=self.prefix)
        try:
            region.register(self.client)
        except BaseException:
            region.close()
            raise
        self._regions.append(region)
        return region

    def scratch(self, byte_size: int) -> SystemRegion:
        """The region ``infer`` lays one call's tensors in: kept while big enough, else replaced
        by one of the next power of two (at least 1 MiB)."""
        if self._scratch is not None and not self._scratch.closed and \
                self._scratch.byte_size >= byte_size:
            return self._scratch
        if self._scratch is not None:
            self._release(self._scratch)
            self._scratch = None
        size = max(1 << 20, 1 << max(0, (byte_size - 1).bit_length()))
        self._scratch = self.create(size)
        return self._scratch

    def locate(self, array: np.ndarray) -> Optional[RegionRef]:
        """The reference to ``array`` if it lies in one of these regions (not the scratch one)."""
        for region in self._regions:
            if region is not self._scratch and not region.closed:
                ref = region.locate(array)
                if ref is not None:
                    return ref
        return None

    def status(self) -> List[Dict[str, Any]]:
        """The server's view of this uid's system regions (``GET /v2/systemsharedmemory/status``)."""
        return self.client.system_shared_memory_status()

    def _release(self, region: SystemRegion) -> None:
        try:
            region.close()
        finally:
            if region in self._regions:
                self._regions.remove(region)

    def close(self) -> None:
        """Unregisters and unlinks every region; the first error is raised after all are closed."""
        first: Optional[BaseException] = None
        for region in list(self._regions):
            try:
                self._release(region)
            except Exception as error:  # one failure (a lost connection) must not leak the rest
                first = first or error
        self._scratch = None
        self.client._forget_shared_memory(self)
        if first is not None:
            raise first

    def __enter__(self) -> "SharedMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def layout(self, sizes: Sequence[int]) -> Tuple[SystemRegion, List[int]]:
        """Offsets for tensors of ``sizes`` bytes, each aligned, in a scratch region that fits."""
        offsets = []
        end = 0
        for size in sizes:
            offsets.append(end)
            end = align(end + size)
        return self.scratch(max(end, 1)), offsets
