"""Writes torchvision's ResNet-50 (random weights, eval mode) as TorchScript, for infervisor-bench-gpu.

    python3 bench/gpu/make_resnet50.py OUT.pt

Scripted on the machine that benchmarks it, with that machine's torch and torchvision: nothing is
downloaded. Input x FP32 [B, 3, 224, 224], output FP32 [B, 1000].
"""
import sys

import torch
import torchvision

if len(sys.argv) != 2:
    sys.exit(__doc__)
torch.manual_seed(0)
model = torchvision.models.resnet50(weights=None).eval()
torch.jit.script(model).save(sys.argv[1])
print(f"{sys.argv[1]}: torchvision {torchvision.__version__} ResNet-50, torch {torch.__version__}")
