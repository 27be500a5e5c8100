"""What the task ran on: enough to re-run it and compare."""

from __future__ import annotations

import platform
import random
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from commons.errors import DeviceTooSmall

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


def check_device_fits(execution: dict[str, Any] | None, device: str) -> str | None:
    """Refuse a CUDA device smaller than the version's `gpu.min_memory_gb`; returns a note for the manifest.

    A worker without CUDA runs the task on its CPU (the embedded process pool ignores GPU requests), and
    the note says so; a GPU worker whose device is too small fails the task before any work.
    """
    gpu = (execution or {}).get("gpu") or {}
    wanted = int(gpu.get("count", 0) or 0)
    if wanted == 0:
        return None
    if not device.startswith("cuda"):
        return f"the version asks for {wanted} GPU(s); this worker has none, so the task ran on {device}"
    import torch

    minimum = gpu.get("min_memory_gb")
    total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    if minimum is not None and total < float(minimum) * 1e9:
        raise DeviceTooSmall(
            f"the version needs a GPU with at least {minimum} GB; this worker's {torch.cuda.get_device_name(device)} "
            f"has {total / 1e9:.1f} GB — run it on a work pool with larger GPUs"
        )
    return None
