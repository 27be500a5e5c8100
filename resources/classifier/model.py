"""Build a torchvision ResNet classifier from a `ClassifierConfig` and, optionally, a local weights file.

The network is torchvision's resnet18/34/50 (weights=None) with `fc` replaced by
``nn.Linear(in_features, len(config.classes))``. Input: Bx3xSxS float32 normalised with the config's
mean/std; output: BxC float32 logits, C = len(config.classes), in the order of `config.classes`.

Weights are read as safetensors, or as a `.pth`/`.pt` through `torch.load(weights_only=True)` only.
A file whose tensor names, shapes or kinds do not fit the config is refused with the differences listed.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torchvision.models import ResNet, resnet18, resnet34, resnet50

from commons.errors import InvalidInput, InvalidWeights
from resources.classifier.config import WEIGHT_SUFFIXES, ClassifierConfig

_ARCHS: Final[dict[str, Callable[..., ResNet]]] = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
_SHOWN: Final[int] = 5
_TORCH_LOAD_ERRORS: Final = (RuntimeError, EOFError, KeyError, ValueError, OSError, AttributeError, TypeError)


def select_device() -> str:
    """ "cuda" when a CUDA GPU is usable, else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_classifier(config: ClassifierConfig, weights_path: Path | None, *, device: str) -> ResNet:
    """Return the classifier in eval mode on `device`, float32.

    `weights_path` None: torchvision's random initialisation drawn from `config.init_seed` (the same
    seed gives bit-identical weights; the global torch RNG is left as it was). Otherwise the file's
    weights, loaded onto a model built on the meta device (no wasted initialisation). Raises
    InvalidWeights for a missing, unreadable, unsafe or mismatched file.
    """
    if weights_path is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.init_seed)
            model = _construct(config)
        return model.to(device).eval()
    state = _read_state_dict(weights_path)
    with torch.device("meta"):
        model = _construct(config)
    expected = model.state_dict()
    _check_fits(weights_path.name, _shapes(state), _shapes(expected))
    for name, tensor in state.items():
        if tensor.is_floating_point() != expected[name].is_floating_point():
            kind = "floating point" if expected[name].is_floating_point() else "integer"
            raise InvalidWeights(
                f"{weights_path.name}: tensor {name} has dtype {tensor.dtype}; the model needs {kind} there",
                field="weights",
            )
    model.load_state_dict(
        {k: (v.to(torch.float32) if v.is_floating_point() else v).contiguous() for k, v in state.items()},
        assign=True,
    )
    return model.to(device).eval()


def freeze_backbone(model: ResNet) -> None:
    """Leave only the final `fc` layer trainable (requires_grad False everywhere else)."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("fc.")


def save_weights(model: nn.Module, *, path: Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write the model's state dict as safetensors (contiguous CPU tensors), replacing `path` atomically."""
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
    if path.name.lower().endswith(".safetensors"):
        _check_suffix(path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                found = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as exc:
            raise _not_safetensors(path, exc) from exc
    else:
        found = _shapes(_read_state_dict(path))
    with torch.device("meta"):
        expected = _shapes(_construct(config).state_dict())
    _check_fits(path.name, found, expected)


def _construct(config: ClassifierConfig) -> ResNet:
    model = _ARCHS[config.arch](weights=None)
    model.fc = nn.Linear(model.fc.in_features, len(config.classes))
    return model


def _check_suffix(path: Path) -> None:
    if not path.name.lower().endswith(WEIGHT_SUFFIXES):
        raise InvalidWeights(
            f"{path.name}: weights must be a .safetensors file (or .pth/.pt loadable with weights_only=True)",
            field="weights",
        )
    if not path.is_file():
        raise InvalidWeights(f"weights file {path.name} does not exist", field="weights")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    _check_suffix(path)
    loaded: object
    if path.name.lower().endswith(".safetensors"):
        try:
            loaded = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise _not_safetensors(path, exc) from exc
    else:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            found = re.search(r"WeightsUnpickler error: ([^\n]*?)(?: was not an allowed global|\n|$)", str(exc))
            reason = found.group(1) if found else str(exc).splitlines()[0]
            raise InvalidWeights(
                f"{path.name} cannot be loaded with torch.load(weights_only=True) ({reason}): it holds Python "
                "objects other than tensors, or is not a PyTorch checkpoint. Save a plain state dict, or "
                "convert it to safetensors (safetensors.torch.save_file) on a machine you trust",
                field="weights",
            ) from exc
        except _TORCH_LOAD_ERRORS as exc:
            raise InvalidWeights(
                f"{path.name} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc}); "
                "upload safetensors weights",
                field="weights",
            ) from exc
    if not isinstance(loaded, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in loaded.items()
    ):
        raise InvalidWeights(
            f"{path.name} must hold a flat state dict (parameter name → tensor), found {type(loaded).__name__} "
            "with other contents; save model.state_dict() itself",
            field="weights",
        )
    return loaded


def _not_safetensors(path: Path, exc: Exception) -> InvalidWeights:
    return InvalidWeights(
        f"{path.name} is not a valid safetensors file ({exc}); re-save it with safetensors.torch.save_file",
        field="weights",
    )


def _shapes(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in state.items()}


def _check_fits(name: str, found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]]) -> None:
    """Raise InvalidWeights listing the first missing/unexpected names and shape differences."""
    missing = sorted(expected.keys() - found.keys())
    unexpected = sorted(found.keys() - expected.keys())
    mismatched = [
        f"{key} is {list(found[key])} but the config needs {list(expected[key])}"
        for key in sorted(expected.keys() & found.keys())
        if found[key] != expected[key]
    ]
    problems = []
    for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
        if items:
            more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
            problems.append(f"{len(items)} {title}: {', '.join(items[:_SHOWN])}{more}")
    if problems:
        raise InvalidWeights(
            f"{name} does not fit the config ({'; '.join(problems)}); check that config.json's arch and "
            "classes (fc.weight has one row per class) describe these weights",
            field="weights",
        )
