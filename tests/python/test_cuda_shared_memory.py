"""CUDA shared-memory regions against the real infervisord with a GPU worker: torch CUDA tensors
read and written in place by the worker, the registration rules, and the errors of a handle that
does not open or a block smaller than its registration, after which the daemon and the worker
serve on. Skipped (exit 77) without torch, without a CUDA device, or without CUDA workers."""
import importlib.util
import os
import subprocess
import unittest

import numpy as np

import infervisor
from daemon import BIN_DIR, RunningDaemon, have_binaries, model_entry

daemon: RunningDaemon = None  # type: ignore[assignment]  # set by setUpModule
DATATYPES = ["BOOL", "UINT8", "INT8", "INT16", "INT32", "INT64", "FP16", "BF16", "FP32", "FP64"]


def setUpModule():
    global daemon
    if not have_binaries():
        raise unittest.SkipTest("infervisord or the test models are not built")
    if importlib.util.find_spec("torch") is None:
        raise unittest.SkipTest("torch is not installed")
    import torch
    if not torch.cuda.is_available():
        raise unittest.SkipTest("torch sees no CUDA device")
    on_gpu = {"instances": "{count: 1, device: 'cuda:0'}"}
    models = model_entry("mlp", "mlp", extra=on_gpu)
    models += model_entry("mlp_cpu", "mlp")
    for datatype in DATATYPES:
        models += model_entry(f"id_{datatype.lower()}", "identity", datatype, "[-1, 64]",
                              dict(on_gpu, ring_size="1MiB"))
    daemon = RunningDaemon(models, "client_shared_memory: true\n")
    check = subprocess.run([os.path.join(BIN_DIR, "infervisord"), "--config", daemon.config,
                            "--check-config"], capture_output=True, text=True)
    if check.returncode != 0:
        daemon.cleanup()
        raise unittest.SkipTest("no CUDA workers here: " + check.stderr.strip()[-300:])
    daemon.start_ready()


def tearDownModule():
    if daemon is not None:
        daemon.cleanup()


def region_infer(client, model, input_region, output_region, rows, offset=0, output_offset=0):
    """A hand-made request whose input and output are in the named regions (offsets count from
    the registered base, which for a torch block is where torch's caching block starts)."""
    size = rows * 256 * 4
    return client._call("POST", f"/v2/models/{model}/infer", {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [rows, 256], "parameters": {
            "shared_memory_region": input_region, "shared_memory_byte_size": size,
            "shared_memory_offset": offset}}],
        "outputs": [{"name": "y", "parameters": {
            "shared_memory_region": output_region, "shared_memory_byte_size": size,
            "shared_memory_offset": output_offset}}]})


class CudaSharedMemory_test(unittest.TestCase):
    def setUp(self):
        self.client = daemon.client()
        self.addCleanup(self.client.close)

    def test_advertised(self):
        self.assertIn("cuda_shared_memory", self.client.extensions)

    def test_cuda_tensors_stay_on_the_gpu_and_match_the_socket_path(self):
        import torch
        x = torch.randn(8, 256, device="cuda")
        result = self.client.infer("mlp", {"x": x})["y"]
        self.assertTrue(result.is_cuda)
        by_socket = self.client.infer("mlp", {"x": x.cpu().numpy()}, shared_memory=False)["y"]
        np.testing.assert_allclose(result.cpu().numpy(), by_socket, rtol=1e-5, atol=1e-6)
        by_cpu = self.client.infer("mlp_cpu", {"x": x.cpu().numpy()}, shared_memory=False)["y"]
        np.testing.assert_allclose(result.cpu().numpy(), by_cpu, rtol=1e-4, atol=1e-5)
        self.assertGreaterEqual(len(self.client.cuda_shared_memory_status()), 1)

    def test_regions_used_in_place_at_an_offset(self):
        import torch
        from infervisor.cuda_shared_memory import CudaRegion
        with CudaRegion(1 << 20) as inputs, CudaRegion(1 << 20) as outputs:
            inputs.register(self.client)
            outputs.register(self.client)
            x = torch.randn(4, 256, device="cuda")
            inputs.tensor((4, 256), "FP32", offset=4096).copy_(x)
            torch.cuda.synchronize()
            ref_in = inputs.ref(4096, x.numel() * 4)
            ref_out = outputs.ref(0, x.numel() * 4)
            region_infer(self.client, "mlp", inputs.name, outputs.name, 4, ref_in.offset,
                         ref_out.offset)
            y = outputs.tensor((4, 256), "FP32").clone()
            expected = self.client.infer("mlp", {"x": x.cpu().numpy()}, shared_memory=False)["y"]
            np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=1e-5, atol=1e-6)
            names = {r["name"] for r in self.client.cuda_shared_memory_status()}
            self.assertLessEqual({inputs.name, outputs.name}, names)
            self.assertNotIn(inputs.name,
                             {r["name"] for r in self.client.system_shared_memory_status()})

    def test_unaligned_offsets_are_copied_not_faulted(self):
        # A float at an odd address would be a sticky misaligned-address error on the GPU: the
        # worker copies such an input (and writes such an output) byte for byte instead.
        import torch
        from infervisor.cuda_shared_memory import CudaRegion
        with CudaRegion(1 << 20) as inputs, CudaRegion(1 << 20) as outputs:
            inputs.register(self.client)
            outputs.register(self.client)
            x = torch.randn(2, 256, device="cuda")
            nbytes = x.numel() * 4
            inputs._buffer[1:1 + nbytes].copy_(x.view(torch.uint8).reshape(-1))
            torch.cuda.synchronize()
            region_infer(self.client, "mlp", inputs.name, outputs.name, 2,
                         inputs.base_offset + 1, outputs.base_offset + 3)
            y = outputs._buffer[3:3 + nbytes].clone().view(torch.float32).reshape(2, 256)
            expected = self.client.infer("mlp", {"x": x.cpu().numpy()}, shared_memory=False)["y"]
            np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=1e-5, atol=1e-6)
        x = torch.randn(2, 256, device="cuda")
        self.assertTrue(self.client.infer("mlp", {"x": x})["y"].is_cuda)

    def test_every_datatype_round_trips_through_cuda_regions(self):
        import torch
        from infervisor.cuda_shared_memory import TORCH_DTYPES
        for datatype in DATATYPES:
            with self.subTest(datatype=datatype):
                dtype = getattr(torch, TORCH_DTYPES[datatype])
                if dtype == torch.bool:
                    x = torch.rand(3, 64, device="cuda") > 0.5
                elif dtype.is_floating_point:
                    x = torch.randn(3, 64, device="cuda").to(dtype)
                else:
                    x = torch.randint(0, 100, (3, 64), device="cuda").to(dtype)
                y = self.client.infer(f"id_{datatype.lower()}", {"x": x})["y"]
                self.assertTrue(y.is_cuda)
                self.assertTrue(torch.equal(y.cpu(), x.cpu()), datatype)

    def test_bool_bytes_other_than_0_and_1_read_as_true(self):
        import torch
        from infervisor.cuda_shared_memory import CudaRegion
        with CudaRegion(4096) as inputs, CudaRegion(4096) as outputs:
            inputs.register(self.client)
            outputs.register(self.client)
            raw = torch.tensor([0, 1, 2, 255] * 16, dtype=torch.uint8, device="cuda")
            inputs._buffer[:64].copy_(raw)
            torch.cuda.synchronize()
            self.client._call("POST", "/v2/models/id_bool/infer", {
                "inputs": [{"name": "x", "datatype": "BOOL", "shape": [1, 64], "parameters": {
                    "shared_memory_region": inputs.name, "shared_memory_byte_size": 64,
                    "shared_memory_offset": inputs.base_offset}}],
                "outputs": [{"name": "y", "parameters": {
                    "shared_memory_region": outputs.name, "shared_memory_byte_size": 64,
                    "shared_memory_offset": outputs.base_offset}}]})
            self.assertEqual(outputs._buffer[:64].cpu().tolist(), [0, 1, 1, 1] * 16)

    def test_registration_rules(self):
        good = bytes(64)
        with self.assertRaises(infervisor.ServerError) as caught:
            self.client.register_cuda_shared_memory("short", good[:63], 0, 64)
        self.assertEqual(caught.exception.status, 400)
        with self.assertRaises(infervisor.ServerError) as caught:
            self.client.register_cuda_shared_memory("elsewhere", good, 7, 64)
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("device_id 7", caught.exception.message)
        with self.assertRaises(infervisor.ServerError) as caught:
            self.client._call("POST", "/v2/cudasharedmemory/region/b64/register",
                              {"raw_handle": {"b64": "not base64!"}, "device_id": 0,
                               "byte_size": 64})
        self.assertEqual(caught.exception.status, 400)

    def test_a_handle_that_does_not_open_fails_the_job_and_the_worker_serves_on(self):
        import torch
        self.client.register_cuda_shared_memory("bogus", bytes(range(64)), 0, 1 << 20)
        self.addCleanup(self.client.unregister_cuda_shared_memory, "bogus")
        with self.assertRaises(infervisor.ServerError) as caught:
            region_infer(self.client, "mlp", "bogus", "bogus", 2)
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("does not open", caught.exception.message)
        # A CPU model cannot use GPU memory at all.
        with self.assertRaises(infervisor.ServerError) as caught:
            region_infer(self.client, "mlp_cpu", "bogus", "bogus", 2)
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("no worker on GPU 0", caught.exception.message)
        x = torch.randn(2, 256, device="cuda")
        self.assertTrue(self.client.infer("mlp", {"x": x})["y"].is_cuda)

    def test_a_block_smaller_than_its_registration_is_refused(self):
        from infervisor.cuda_shared_memory import CudaRegion
        with CudaRegion(1 << 20) as block:
            self.client.register_cuda_shared_memory("huge", block.handle, block.device_id,
                                                    1 << 40)
            try:
                with self.assertRaises(infervisor.ServerError) as caught:
                    region_infer(self.client, "mlp", "huge", "huge", 2)
                self.assertEqual(caught.exception.status, 400)
                self.assertIn("names a block of only", caught.exception.message)
            finally:
                self.client.unregister_cuda_shared_memory("huge")

    def test_unregister_all_leaves_none(self):
        from infervisor.cuda_shared_memory import CudaRegion
        with CudaRegion(4096) as block:
            block.register(self.client)
            self.client.unregister_cuda_shared_memory()
            block._client = None  # unregistered above, with every other CUDA region
        self.assertEqual(self.client.cuda_shared_memory_status(), [])


if __name__ == "__main__":
    unittest.main()
