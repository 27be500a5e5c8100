"""What the task ran on: enough to re-run it and compare."""

from __future__ import annotations

import platform
import random
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

PACKAGES = (
    "model-commons",
    "torch",
    "torchvision",
    "segment-anything",
    "numpy",
    "opencv-python-headless",
    "pycocotools",
    "pillow",
    "safetensors",
    "prefect",
)


def package_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def describe_environment(device: str) -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu",
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "packages": package_versions(),
    }
