"""A real infervisord for a Python test: its own temporary folder, socket and shm prefix, started
as a user starts it (``infervisord --config FILE``) and stopped with SIGTERM.

The Python twin of tests/integration/running_daemon.*. CTest passes where the binaries and the
models are through INFERVISOR_TEST_BIN_DIR and INFERVISOR_TEST_MODELS_DIR.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Dict, List, Optional

import infervisor

BIN_DIR = os.environ.get("INFERVISOR_TEST_BIN_DIR", "")
MODELS_DIR = os.environ.get("INFERVISOR_TEST_MODELS_DIR", "")


def have_binaries() -> bool:
    return bool(BIN_DIR) and os.path.exists(os.path.join(BIN_DIR, "infervisord")) and \
        os.path.exists(os.path.join(MODELS_DIR, "mlp.pt"))


def model_entry(name: str, kind: str, dtype: str = "FP32", shape: str = "[-1, 256]",
                extra: Optional[Dict[str, str]] = None) -> str:
    """One `models:` list entry on a test model (mlp.pt, identity.pt, ...), one CPU worker."""
    settings = {"instances": "{count: 1}", "threads": "1", "ring_size": "4MiB"}
    settings.update(extra or {})
    lines = [f"  - name: {name}", f"    path: {os.path.join(MODELS_DIR, kind + '.pt')}"]
    lines += [f"    {key}: {value}" for key, value in settings.items()]
    lines += [f"    inputs: [{{name: x, dtype: {dtype}, shape: {shape}}}]",
              f"    outputs: [{{name: y, dtype: {dtype}, shape: {shape}}}]"]
    return "\n".join(lines) + "\n"


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningDaemon:
    """``models_yaml`` is the config's `models:` list; ``extra_yaml`` adds top-level settings."""

    _instances = 0

    def __init__(self, models_yaml: str, extra_yaml: str = "") -> None:
        RunningDaemon._instances += 1
        self.folder = tempfile.mkdtemp(prefix="infervisor-pyt-")
        self.socket = os.path.join(self.folder, "d.sock")
        self.config = os.path.join(self.folder, "config.yaml")
        self.shm_prefix = f"ivpyt{os.getpid()}x{RunningDaemon._instances}"
        self.process: Optional[subprocess.Popen] = None
        settings = extra_yaml
        if "startup_timeout:" not in settings:
            settings += "startup_timeout: 120s\n"
        if "worker_path:" not in settings:
            settings += f"worker_path: {os.path.join(BIN_DIR, 'infervisor-worker')}\n"
        with open(self.config, "w") as config:
            config.write(f"socket: {self.socket}\nshm_prefix: {self.shm_prefix}\n"
                         f"log_level: info\n{settings}models:\n{models_yaml}")

    def start(self) -> None:
        with open(os.path.join(self.folder, "daemon.log"), "wb") as log:
            self.process = subprocess.Popen(
                [os.path.join(BIN_DIR, "infervisord"), "--config", self.config],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)

    def wait_ready(self, timeout: float = 180.0) -> bool:
        """Polls /v2/health/ready until 200; False if the daemon exits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with infervisor.Client(self.socket, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return False
                try:
                    if client.health().ready:
                        return True
                except infervisor.InfervisorError:
                    pass  # not listening yet
                time.sleep(0.02)
        return False

    def start_ready(self) -> None:
        self.start()
        if not self.wait_ready():
            log = self.log()
            self.stop()
            raise RuntimeError(f"infervisord did not become ready; its log:\n{log}")

    def client(self, **options) -> infervisor.Client:
        return infervisor.Client(self.socket, **options)

    def stop(self, timeout: float = 60.0) -> Optional[int]:
        """SIGTERM and wait; SIGKILL if it does not exit within ``timeout``. Its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        with open(os.path.join(self.folder, "daemon.log"), errors="replace") as log:
            return log.read()

    def leftover_segments(self) -> List[str]:
        return [n for n in os.listdir("/dev/shm") if n.startswith(self.shm_prefix + ".")]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
