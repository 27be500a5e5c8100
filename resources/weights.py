"""Safe reading of weights files, shared by every resource kind that loads a torch model.

A state dict is read from `.safetensors` (safetensors), or from `.pth`/`.pt` through
``torch.load(path, map_location="cpu", weights_only=True)`` only: no bare `torch.load`, so a file can
never run code while it is read. Every failure is an `InvalidWeights` (field "weights") that says what
is wrong and what to upload instead.
"""

from __future__ import annotations

import pickle
import re
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from commons.errors import InvalidWeights
from commons.weights_check import check_weights_container
from resources.schema import WEIGHT_SUFFIXES

Shapes = dict[str, tuple[int, ...]]
SHOWN: Final[int] = 5  # how many names a message lists before "and N more"
_Module = TypeVar("_Module", bound=torch.nn.Module)
# AssertionError, IndexError, struct.error: what torch's legacy loader raises on damaged files (fuzz/fuzz_weights.py)
_TORCH_LOAD_ERRORS: Final = (
    RuntimeError,
    EOFError,
    KeyError,
    ValueError,
    OSError,
    AttributeError,
    TypeError,
    AssertionError,
    IndexError,
    struct.error,
)


def is_safetensors(path: Path) -> bool:
    """Whether the file name ends in .safetensors (any case)."""
    return path.name.lower().endswith(".safetensors")


def check_suffix(path: Path) -> None:
    """Raise InvalidWeights unless `path` is an existing .safetensors, .pth or .pt file."""
    if not path.name.lower().endswith(WEIGHT_SUFFIXES):
        raise InvalidWeights(
            f"{path.name}: weights must be a .safetensors file (or .pth/.pt loadable with weights_only=True)",
            field="weights",
        )
    if not path.is_file():
        raise InvalidWeights(f"weights file {path.name} does not exist", field="weights")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The flat state dict (name → CPU tensor) held by a .safetensors or a weights_only-loadable .pth/.pt."""
    check_suffix(path)
    check_weights_container(path)  # before anything inflates or allocates what the file declares
    loaded: object
    if is_safetensors(path):
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


def read_shapes(path: Path) -> Shapes:
    """Tensor name → shape of a weights file: for safetensors from the header alone (no tensor is
    loaded); for .pth/.pt through a full `read_state_dict`."""
    if not is_safetensors(path):
        return tensor_shapes(read_state_dict(path))
    check_suffix(path)
    check_weights_container(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise _not_safetensors(path, exc) from exc


def tensor_shapes(state: Mapping[str, torch.Tensor]) -> Shapes:
    """Tensor name → shape of a state dict (works on meta tensors too)."""
    return {name: tuple(tensor.shape) for name, tensor in state.items()}


def check_fits(name: str, found: Shapes, expected: Shapes, *, described_by: str) -> None:
    """Raise InvalidWeights listing the first missing/unexpected names and shape differences.

    `described_by` names what in config.json fixes the shapes, e.g. "arch and encoder_* fields"; the
    message ends "check that config.json's <described_by> describe these weights".
    """
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
            more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
            problems.append(f"{len(items)} {title}: {', '.join(items[:SHOWN])}{more}")
    if problems:
        raise InvalidWeights(
            f"{name} does not fit the config ({'; '.join(problems)}); check that config.json's {described_by} "
            "describe these weights",
            field="weights",
        )


def _not_safetensors(path: Path, exc: Exception) -> InvalidWeights:
    return InvalidWeights(
        f"{path.name} is not a valid safetensors file ({exc}); re-save it with safetensors.torch.save_file",
        field="weights",
    )


def build_model(
    construct: Callable[[], _Module], weights_path: Path | None, *, seed: int, device: str, described_by: str
) -> _Module:
    """The model `construct()` makes, in eval mode on `device`, float32.

    `weights_path` None: the modules' default initialisation drawn from `seed` (the same seed gives
    bit-identical weights; the global torch RNG is left as it was). Otherwise the file's weights, loaded
    onto a model built on the meta device (no wasted initialisation); integer buffers take the model's
    dtype. Raises InvalidWeights for a missing, unreadable, unsafe or mismatched file (`described_by`
    says what the tensors must fit, e.g. "arch and classes").
    """
    if weights_path is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = construct()
        return model.to(device).eval()
    state = read_state_dict(weights_path)
    with torch.device("meta"):
        model = construct()
    expected = model.state_dict()
    check_fits(weights_path.name, tensor_shapes(state), tensor_shapes(expected), described_by=described_by)
    for name, tensor in state.items():
        if tensor.is_floating_point() != expected[name].is_floating_point():
            kind = "floating point" if expected[name].is_floating_point() else "integer"
            raise InvalidWeights(
                f"{weights_path.name}: tensor {name} has dtype {tensor.dtype}; the model needs {kind} there",
                field="weights",
            )
    model.load_state_dict(
        {
            name: (
                tensor.to(torch.float32) if tensor.is_floating_point() else tensor.to(expected[name].dtype)
            ).contiguous()
            for name, tensor in state.items()
        },
        assign=True,
    )
    return model.to(device).eval()


def check_weights_fit(path: Path, construct: Callable[[], torch.nn.Module], *, described_by: str) -> None:
    """Open a weights file as `build_model` would, without building the model (upload-time check):
    safetensors reads only the header; tensor names and shapes are compared with the meta-built model's."""
    found = read_shapes(path)
    with torch.device("meta"):
        expected = tensor_shapes(construct().state_dict())
    check_fits(path.name, found, expected, described_by=described_by)
