"""Build `segment_anything.modeling.Sam` from a `SamConfig` and a local weights file.

Weights are read as safetensors, or as a `.pth`/`.pt` through `torch.load(weights_only=True)` only;
`segment_anything`'s own loader (a bare `torch.load`) is never used. A file whose tensor names or
shapes do not fit the config is refused with the first differences listed.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any, Final

import torch
from safetensors.torch import save_file
from segment_anything.build_sam import _build_sam
from segment_anything.modeling import Sam

from commons.errors import InvalidInput, InvalidWeights
from resources.sam.config import SamConfig
from resources.weights import SHOWN, check_fits, read_shapes, read_state_dict, tensor_shapes

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
_FITS: Final[str] = "arch and encoder_* fields"


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
    state = read_state_dict(weights_path)
    with torch.device("meta"):
        sam = _construct(config)
    check_fits(weights_path.name, tensor_shapes(state), tensor_shapes(sam.state_dict()), described_by=_FITS)
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise InvalidWeights(
                f"{weights_path.name}: tensor {name} has dtype {tensor.dtype}; SAM weights are floating point",
                field="weights",
            )
    sam.load_state_dict({k: v.to(torch.float32).contiguous() for k, v in state.items()}, assign=True)
    still_meta = [n for n, t in chain(sam.named_parameters(), sam.named_buffers()) if t.is_meta]
    if still_meta:
        raise RuntimeError(f"SAM tensors left uninitialised after loading: {still_meta[:SHOWN]}")
    return sam.to(device).eval()


def check_weights_file(path: Path, *, config: SamConfig | None = None) -> None:
    """Open a weights file as `build_sam` would, without building the model (upload-time check).

    safetensors: only the header is parsed; .pth/.pt: a full `torch.load(weights_only=True)`.
    With `config`, the tensor names and shapes are also compared with what the config needs.
    """
    found = read_shapes(path)
    if config is not None:
        with torch.device("meta"):
            expected = tensor_shapes(_construct(config).state_dict())
        check_fits(path.name, found, expected, described_by=_FITS)


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
