"""Build `segment_anything.modeling.Sam` from a `SamConfig` and a local weights file.

Weights are read as safetensors, or as a `.pth`/`.pt` through `torch.load(weights_only=True)` only;
`segment_anything`'s own loader (a bare `torch.load`) is never used. A file whose tensor names or
shapes do not fit the config is refused with the first differences listed.
"""

from __future__ import annotations

import pickle
import re
from itertools import chain
from pathlib import Path
from typing import Any, Final

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from segment_anything.build_sam import _build_sam
from segment_anything.modeling import Sam

from commons.errors import InvalidInput, InvalidWeights
from resources.sam.config import WEIGHT_SUFFIXES, SamConfig

# A custom SAM small enough for tests and the demo on CPU. SAM's prompt encoder and mask decoder
# (256-d two-way transformer over 64x64 image tokens) are fixed by `_build_sam`, so the decoder, run
# once per point prompt, dominates the time; the encoder below costs about 0.2 s per photo on 2 cores.
TINY_CONFIG: Final[dict[str, Any]] = {
    "arch": "custom",
    "checkpoint": "sam_tiny.safetensors",
    "encoder_embed_dim": 64,
    "encoder_depth": 2,
    "encoder_num_heads": 2,
    "encoder_global_attn_indexes": [1],
}
# vit_b's numbers under arch "custom": the benchmark's model, with random (untrained) weights.
VIT_B_SIZED_CONFIG: Final[dict[str, Any]] = {
    "arch": "custom",
    "checkpoint": "sam_vit_b_sized.safetensors",
    "encoder_embed_dim": 768,
    "encoder_depth": 12,
    "encoder_num_heads": 12,
    "encoder_global_attn_indexes": [2, 5, 8, 11],
}
_SHOWN: Final[int] = 5
_TORCH_LOAD_ERRORS: Final = (RuntimeError, EOFError, KeyError, ValueError, OSError, AttributeError, TypeError)


def select_device() -> str:
    """ "cuda" when a CUDA GPU is usable, else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_sam(config: SamConfig, weights_path: Path | None, *, device: str) -> Sam:
    """Return a `Sam` in eval mode on `device` with the weights of `weights_path` (float32).

    The model is first built on the meta device, so no random initialisation is computed and the
    weights are held once in memory. Raises InvalidWeights for a missing, unreadable, unsafe or
    mismatched file.
    """
    if weights_path is None:
        raise InvalidWeights(
            "no weights file was given; a SAM without weights is untrained. Upload the version's "
            "weights (or, for tests only, create random ones with save_random_weights)",
            field="weights",
        )
    state = _read_state_dict(weights_path)
    with torch.device("meta"):
        sam = _construct(config)
    _check_fits(weights_path.name, _shapes(state), _shapes(sam.state_dict()))
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise InvalidWeights(
                f"{weights_path.name}: tensor {name} has dtype {tensor.dtype}; SAM weights are floating point",
                field="weights",
            )
    sam.load_state_dict({k: v.to(torch.float32).contiguous() for k, v in state.items()}, assign=True)
    still_meta = [n for n, t in chain(sam.named_parameters(), sam.named_buffers()) if t.is_meta]
    if still_meta:
        raise RuntimeError(f"SAM tensors left uninitialised after loading: {still_meta[:_SHOWN]}")
    return sam.to(device).eval()


def check_weights_file(path: Path, *, config: SamConfig | None = None) -> None:
    """Open a weights file as `build_sam` would, without building the model (upload-time check).

    safetensors: only the header is parsed; .pth/.pt: a full `torch.load(weights_only=True)`.
    With `config`, the tensor names and shapes are also compared with what the config needs.
    """
    if path.name.lower().endswith(".safetensors"):
        _check_suffix(path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                names = handle.keys()
                found = {name: tuple(handle.get_slice(name).get_shape()) for name in names}
        except (SafetensorError, OSError, ValueError) as exc:
            raise _not_safetensors(path, exc) from exc
    else:
        found = _shapes(_read_state_dict(path))
    if config is not None:
        with torch.device("meta"):
            expected = _shapes(_construct(config).state_dict())
        _check_fits(path.name, found, expected)


def save_random_weights(config: SamConfig, path: Path, *, seed: int) -> None:
    """Write UNTRAINED, randomly initialised SAM weights (seeded) to a `.safetensors` file.

    For tests, the demo and the benchmark only: the masks such weights give are meaningless. The
    global torch RNG state is left as it was.
    """
    if not path.name.lower().endswith(".safetensors"):
        raise InvalidInput(f"random weights are written as safetensors; got {path.name}", field="path")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sam = _construct(config)
    state = {name: tensor.detach().contiguous() for name, tensor in sam.state_dict().items()}
    save_file(state, str(path), metadata={"untrained": "true", "seed": str(seed)})


def _construct(config: SamConfig) -> Sam:
    encoder = config.encoder()
    return _build_sam(
        encoder_embed_dim=encoder.embed_dim,
        encoder_depth=encoder.depth,
        encoder_num_heads=encoder.num_heads,
        encoder_global_attn_indexes=list(encoder.global_attn_indexes),
        checkpoint=None,
    )


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


def _shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
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
            "encoder_* fields describe these weights",
            field="weights",
        )
