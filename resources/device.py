"""Where a task's models run: the one device choice every kind shares."""

from __future__ import annotations

import torch


def select_device() -> str:
    """ "cuda" when a CUDA GPU is usable, else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"
