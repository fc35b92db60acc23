"""System shared memory on the client's side: the POSIX objects it creates (exclusive, 0600,
unlinked on close), and the protocol run end to end against fake_server, which implements the
extension as Triton specifies it, so the client is checked against the protocol and not only
against infervisord (test_shared_memory_daemon.py runs it against the real daemon)."""
import os
import stat
import subprocess
import sys
import unittest
from unittest import mock

import numpy as np

import infervisor
from fake_server import FakeServer
from infervisor.shared_memory import SystemRegion, remove_stale_objects


class SystemRegion_test(unittest.TestCase):
    def test_the_object_is_new_private_sized_and_unlinked_on_close(self):
        old_umask = os.umask(0)  # 0600 must not depend on the umask
        try:
            sut = SystemRegion(10000)
        finally:
            os.umask(old_umask)
        info = os.lstat(sut.path)
        self.assertTrue(stat.S_ISREG(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o600)
        self.assertEqual(info.st_size, 10000)
        self.assertEqual(info.st_uid, os.geteuid())
        self.assertEqual(sut.key, "/" + os.path.basename(sut.path))
        self.assertTrue(os.path.basename(sut.path).startswith(f"ivpy.{os.getpid()}."))
        view = sut.ndarray((2, 5), np.int32, offset=64)
        view[:] = 7
        with open(sut.path, "rb") as raw:
            raw.seek(64)
            self.assertEqual(np.frombuffer(raw.read(40), np.int32).tolist(), [7] * 10)
        sut.close()
        self.assertFalse(os.path.exists(sut.path))
        self.assertEqual(view.tolist(), [[7] * 5] * 2)  # a view outlives close(): still mapped
        sut.close()  # twice is fine

    def test_an_existing_name_is_never_reused(self):
        with mock.patch("secrets.token_hex", return_value="0123456789abcdef"):
            with SystemRegion(16) as first:
                with self.assertRaisesRegex(infervisor.SharedMemoryError, "File exists"):
                    SystemRegion(16)
                self.assertTrue(os.path.exists(first.path))  # the failed one left it alone
        with self.assertRaises(ValueError):
            SystemRegion(0)

    def test_a_dropped_region_is_unlinked(self):
        sut = SystemRegion(16)
        path = sut.path
        del sut
        self.assertFalse(os.path.exists(path))

    def test_locate_finds_views_and_nothing_else(self):
        with SystemRegion(4096) as sut:
            inside = sut.ndarray((4, 4), np.float32, offset=128)
            ref = sut.locate(inside)
            self.assertEqual((ref.region, ref.offset, ref.byte_size), (sut.name, 128, 64))
            self.assertIsNone(sut.locate(inside[:, ::2]))  # not contiguous
            self.assertIsNone(sut.locate(np.zeros(4, np.float32)))
            with self.assertRaises(ValueError):
                sut.ndarray((2000,), np.float32, offset=0)

    def test_objects_of_dead_processes_are_removed_and_live_ones_kept(self):
        child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                               capture_output=True, text=True, check=True)
        dead = f"/dev/shm/ivpytest.{child.stdout.strip()}.abc"
        live = f"/dev/shm/ivpytest.{os.getppid()}.abc"
        for path in (dead, live):
            with open(path, "wb"):
                pass
        try:
            self.assertEqual(remove_stale_objects("ivpytest"),
                             [os.path.basename(dead)])
            self.assertFalse(os.path.exists(dead))
            self.assertTrue(os.path.exists(live))
        finally:
            for path in (dead, live):
                if os.path.exists(path):
                    os.unlink(path)


class SharedMemoryProtocol_test(unittest.TestCase):
    """infer through regions, against the fake server's identity model `echo`."""

    def test_large_tensors_go_through_a_reused_scratch_region(self):
        for dtype, datatype in ((np.float64, "FP64"), (np.int8, "INT8"), (np.bool_, "BOOL"),
                                (np.float16, "FP16")):
            with FakeServer(echo_shape=[-1, 64], echo_datatype=datatype) as server, \
                    infervisor.Client(server.socket, shared_memory_threshold=1024) as client:
                x = (np.arange(4096) % 7).astype(dtype).reshape(64, 64)
                result = client.infer("echo", {"x": x}, id="s")
                np.testing.assert_array_equal(result["y"], x)
                self.assertEqual(result["y"].dtype, x.dtype)
                self.assertEqual(result.id, "s")
                request = server.requests[-1]
                self.assertIn("shared_memory_region", request["inputs"][0]["parameters"])
                self.assertIn("shared_memory_region", request["outputs"][0]["parameters"])
        with FakeServer(echo_shape=[-1, 64]) as server, infervisor.Client(
                server.socket, shared_memory_threshold=1024) as client:
            for batch in (64, 16, 32):
                x = np.random.rand(batch, 64).astype(np.float32)
                np.testing.assert_array_equal(client.infer("echo", {"x": x})["y"], x)
                self.assertIn("shared_memory_region",
                              server.requests[-1]["outputs"][0]["parameters"])
            small = client.infer("echo", {"x": np.ones((2, 2), np.float32)})
            self.assertEqual(small["y"].tolist(), [[1.0, 1.0]] * 2)
            self.assertIn("binary_data_size", server.requests[-1]["inputs"][0]["parameters"])
            # One scratch region served every call.
            self.assertEqual(len(server.regions), 1)
            (region,) = client.shared_memory.regions
            self.assertEqual(client.system_shared_memory_status()[0]["key"], region.key)
            path = region.path
        self.assertEqual(server.regions, {})  # close() unregistered it ...
        self.assertFalse(os.path.exists(path))  # ... and unlinked it

    def test_a_bigger_call_replaces_the_scratch_region(self):
        with FakeServer() as server, infervisor.Client(server.socket) as client:
            # [-1, -1] outputs have no predictable size: they come back through the socket.
            client.infer("echo", {"x": np.zeros((1, 1 << 18), np.float32)})  # 1 MiB
            first = client.shared_memory.regions[0]
            client.infer("echo", {"x": np.zeros((1, 1 << 20), np.float32)})  # 4 MiB
            (second,) = client.shared_memory.regions
            self.assertNotEqual(first.name, second.name)
            self.assertTrue(first.closed)
            self.assertFalse(os.path.exists(first.path))
            self.assertEqual(list(server.regions), [second.name])
            self.assertEqual(second.byte_size, 4 << 20)
            self.assertNotIn("outputs", server.requests[-1])
            self.assertTrue(server.requests[-1]["parameters"]["binary_data_output"])

    def test_arrays_placed_in_a_region_are_sent_by_reference_and_outputs_written_in_place(self):
        with FakeServer() as server, infervisor.Client(server.socket) as client, \
                infervisor.SharedMemory(client) as shm:
            region = shm.create(1 << 16)
            x = region.ndarray((8, 8), np.float64, offset=0)
            x[:] = np.arange(64).reshape(8, 8)
            y = region.ndarray((8, 8), np.float64, offset=4096)
            result = client.infer("echo", {"x": x}, out={"y": y})
            request = server.requests[-1]
            self.assertEqual(request["inputs"][0]["parameters"], {
                "shared_memory_region": region.name, "shared_memory_byte_size": 512,
                "shared_memory_offset": 0})
            self.assertEqual(request["outputs"][0]["parameters"]["shared_memory_offset"], 4096)
            np.testing.assert_array_equal(y, x)
            self.assertTrue(np.shares_memory(result["y"], y))
            self.assertEqual(sorted(server.regions), [region.name])  # no scratch was needed
        self.assertEqual(server.regions, {})

    def test_views_of_the_scratch_region_on_request(self):
        with FakeServer(echo_shape=[-1, 512]) as server, infervisor.Client(server.socket) as client:
            x = np.ones((512, 512), np.float32)
            copied = client.infer("echo", {"x": x})["y"]
            viewed = client.infer("echo", {"x": x}, shm_views=True)["y"]
            (region,) = client.shared_memory.regions
            self.assertIsNotNone(region.locate(viewed))
            self.assertIsNone(region.locate(copied))
            np.testing.assert_array_equal(viewed, x)

    def test_shared_memory_can_be_required_or_refused(self):
        with FakeServer(shared_memory=False) as server, infervisor.Client(server.socket) as client:
            x = np.ones((512, 512), np.float32)
            np.testing.assert_array_equal(client.infer("echo", {"x": x})["y"], x)
            with self.assertRaisesRegex(infervisor.SharedMemoryError, "system_shared_memory"):
                client.infer("echo", {"x": x}, shared_memory=True)
        with FakeServer() as server, infervisor.Client(server.socket) as client:
            client.infer("echo", {"x": np.ones((4, 4), np.float32)}, shared_memory=True)
            self.assertIn("shared_memory_region", server.requests[-1]["inputs"][0]["parameters"])
            client.infer("echo", {"x": np.ones((512, 512), np.float32)}, shared_memory=False)
            self.assertIn("binary_data_size", server.requests[-1]["inputs"][0]["parameters"])


if __name__ == "__main__":
    unittest.main()
