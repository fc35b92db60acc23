"""System shared-memory tensors against the real infervisord (CPU workers): registration, every
datatype equal to the socket path, outputs into regions, unregistering. CUDA regions need a GPU
worker: test_cuda_shared_memory.py."""
import os
import unittest

import numpy as np

import infervisor
from daemon import RunningDaemon, have_binaries, model_entry

DATATYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "BF16": np.uint16, "FP32": np.float32,
    "FP64": np.float64,
}
SETTING = "client_shared_memory: true\n"

daemon: RunningDaemon = None  # type: ignore[assignment]  # set by setUpModule
extensions: set = set()


def setUpModule():
    global daemon, extensions
    if not have_binaries():
        raise unittest.SkipTest("infervisord or the test models are not built")
    models = model_entry("mlp", "mlp")
    for datatype in DATATYPES:
        models += model_entry(f"id_{datatype.lower()}", "identity", datatype, "[-1, 64]",
                              {"ring_size": "1MiB"})
    daemon = RunningDaemon(models, SETTING)
    daemon.start_ready()
    with daemon.client() as client:
        extensions = client.extensions
    if "system_shared_memory" not in extensions:
        tearDownModule()
        raise AssertionError(f"client_shared_memory: true, yet GET /v2 lists only {extensions}")


def tearDownModule():
    status = daemon.stop()
    daemon.cleanup()
    assert status == 0, f"infervisord exited with {status}"


def sample(dtype, shape, seed):
    random = np.random.default_rng(seed)
    if dtype == np.bool_:
        return random.integers(0, 2, shape).astype(bool)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return random.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return random.standard_normal(shape).astype(dtype)


class SystemSharedMemory_test(unittest.TestCase):
    def setUp(self):
        self.client = daemon.client(shared_memory_threshold=0)
        self.addCleanup(self.client.close)

    def test_regions_register_show_in_status_and_go_on_close(self):
        with infervisor.SharedMemory(self.client) as shm:
            region = shm.create(1 << 16)
            status = {r["name"]: r for r in self.client.system_shared_memory_status()}
            self.assertEqual(status[region.name], {"name": region.name, "key": region.key,
                                                   "offset": 0, "byte_size": 1 << 16})
            with self.assertRaises(infervisor.ServerError) as caught:  # a name taken
                self.client.register_system_shared_memory(region.name, region.key, 16)
            self.assertEqual(caught.exception.status, 400)
            path = region.path
        names = [r["name"] for r in self.client.system_shared_memory_status()]
        self.assertNotIn(region.name, names)
        self.assertFalse(os.path.exists(path))

    def test_every_datatype_through_regions_equals_the_socket_path(self):
        for datatype, dtype in DATATYPES.items():
            with self.subTest(datatype=datatype):
                x = sample(dtype, (8, 64), 11)
                options = {"datatypes": {"x": "BF16"}, "raw_bf16": True} \
                    if datatype == "BF16" else {}
                model = f"id_{datatype.lower()}"
                by_socket = self.client.infer(model, {"x": x}, shared_memory=False, **options)
                by_region = self.client.infer(model, {"x": x}, shared_memory=True, **options)
                np.testing.assert_array_equal(by_region["y"], by_socket["y"])
                np.testing.assert_array_equal(by_region["y"], x)

    def test_mlp_through_regions_equals_the_socket_path(self):
        x = sample(np.float32, (32, 256), 12)
        by_socket = self.client.infer("mlp", {"x": x}, shared_memory=False)["y"]
        for _ in range(3):  # the scratch region is reused
            np.testing.assert_array_equal(
                self.client.infer("mlp", {"x": x}, shared_memory=True)["y"], by_socket)
        self.assertEqual(len(self.client.shared_memory.regions), 1)

    def test_inputs_and_outputs_in_place(self):
        with infervisor.SharedMemory(self.client) as shm:
            region = shm.create(1 << 20)
            x = region.ndarray((16, 256), np.float32)
            x[:] = sample(np.float32, (16, 256), 13)
            y = region.ndarray((16, 256), np.float32, offset=1 << 19)
            result = self.client.infer("mlp", {"x": x}, out={"y": y}, id="in-place")
            self.assertEqual(result.id, "in-place")
            self.assertTrue(np.shares_memory(result["y"], y))
            np.testing.assert_array_equal(
                y, self.client.infer("mlp", {"x": np.array(x)}, shared_memory=False)["y"])

    def test_an_unregistered_region_is_refused(self):
        with infervisor.SharedMemory(self.client) as shm:
            region = shm.create(4096)
            x = region.ndarray((1, 64), np.float32)
            region.unregister()
            with self.assertRaises(infervisor.ServerError) as caught:
                self.client.infer("id_fp32", {"x": x})
            self.assertEqual(caught.exception.status, 400)
            self.assertIn(region.name, caught.exception.message)


if __name__ == "__main__":
    unittest.main()
