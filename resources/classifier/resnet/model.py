"""Build a torchvision ResNet classifier from a `ClassifierConfig` and, optionally, a local weights file.

The network is torchvision's resnet18/34/50 (weights=None) with `fc` replaced by
``nn.Linear(in_features, len(config.classes))``. Input: Bx3xSxS float32 normalised with the config's
mean/std; output: BxC float32 logits, C = len(config.classes), in the order of `config.classes`.

Weights are read as safetensors, or as a `.pth`/`.pt` through `torch.load(weights_only=True)` only.
A file whose tensor names, shapes or kinds do not fit the config is refused with the differences listed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Final

import torch
from safetensors.torch import save_file
from torch import nn
from torchvision.models import ResNet, resnet18, resnet34, resnet50

from commons.errors import InvalidInput
from resources.classifier.config import ClassifierConfig
from resources.weights import build_model, check_weights_fit

_ARCHS: Final[dict[str, Callable[..., ResNet]]] = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
_FITS: Final[str] = "arch and classes (fc.weight has one row per class)"


def build_classifier(config: ClassifierConfig, weights_path: Path | None, *, device: str) -> ResNet:
    """Return the classifier in eval mode on `device`, float32.

    `weights_path` None: torchvision's random initialisation drawn from `config.init_seed` (the same
    seed gives bit-identical weights; the global torch RNG is left as it was). Otherwise the file's
    weights, loaded onto a model built on the meta device (no wasted initialisation). Raises
    InvalidWeights for a missing, unreadable, unsafe or mismatched file.
    """
    return build_model(
        partial(_construct, config), weights_path, seed=config.init_seed, device=device, described_by=_FITS
    )


def replace_head(model: ResNet, *, num_classes: int, seed: int) -> None:
    """Give the model a new `fc` with `num_classes` outputs (transfer learning to a new set of classes).

    The new layer is nn.Linear's default initialisation drawn from `seed` (the global torch RNG is left
    as it was), on the device and dtype of the old `fc`.
    """
    if num_classes < 2:
        raise InvalidInput(f"a classifier needs at least 2 classes (got {num_classes})", field="classes")
    old = model.fc
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = nn.Linear(old.in_features, num_classes)
    model.fc = fresh.to(device=old.weight.device, dtype=old.weight.dtype)


def freeze_backbone(model: ResNet) -> None:
    """Leave only the final `fc` layer trainable (requires_grad False everywhere else)."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("fc.")


def save_weights(model: nn.Module, *, path: Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write the model's state dict as safetensors (contiguous CPU tensors), replacing `path` atomically.

    The same weights give the same bytes, except with two or more `metadata` keys: safetensors writes
    that map in a per-process random order, so reproducible outputs pass none (or one).
    """
    if not path.name.lower().endswith(".safetensors"):
        raise InvalidInput(f"weights are written as .safetensors; got {path.name}", field="path")
    state = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    partial = path.with_name(f".{path.name}.partial")
    save_file(state, str(partial), metadata=dict(metadata) if metadata else None)
    os.replace(partial, path)


def check_weights_file(path: Path, *, config: ClassifierConfig) -> None:
    """Open a weights file as `build_classifier` would, without building the model (upload-time check).

    safetensors: only the header is parsed; .pth/.pt: a full `torch.load(weights_only=True)`. Tensor
    names and shapes are compared with what the config's architecture and class count need.
    """
    check_weights_fit(path, partial(_construct, config), described_by=_FITS)


def _construct(config: ClassifierConfig) -> ResNet:
    model = _ARCHS[config.arch](weights=None)
    model.fc = nn.Linear(model.fc.in_features, len(config.classes))
    return model
