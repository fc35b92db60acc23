"""Python client for infervisord (KServe v2 / Open Inference Protocol over a Unix socket).

    import numpy as np, infervisor
    with infervisor.Client() as client:                      # $INFERVISOR_SOCKET or the default
        x = np.random.rand(4, 256).astype(np.float32)
        y = client.infer("mlp", {"x": x})["y"]               # numpy in, numpy out
        print(y.shape, client.metadata("mlp")["outputs"])

Needs numpy; torch is optional (torch tensors in, CUDA tensors through CUDA shared memory).
"""
from ._dtypes import bf16_to_float32, float32_to_bf16
from ._kserve import InferResult
from ._socket_path import default_socket_path
from .client import Client, Health
from .errors import (ConnectionFailed, InfervisorError, ProtocolError, RequestTimeout,
                     ServerError, SharedMemoryError)
from .shared_memory import SharedMemory, SystemRegion

__version__ = "0.1.0"

__all__ = [
    "Client", "Health", "InferResult", "SharedMemory", "SystemRegion", "InfervisorError",
    "ServerError", "ConnectionFailed", "RequestTimeout", "ProtocolError", "SharedMemoryError",
    "default_socket_path", "bf16_to_float32", "float32_to_bf16", "__version__",
]
