"""Which reduced precision the fast encoder may use for a model: checked on the model itself, when its fast encoder
is built.

bf16 keeps float32's range with 8 bits of mantissa, float16 has 11 bits and a narrow range; which one keeps a
given model's masks is a property of its weights. So each candidate runs the encoder once on a probe photo, the
masks of a grid of point prompts decoded from its embedding are compared with those from the float32 embedding,
and the first candidate whose every mask reaches `MIN_IOU` is used (float32, the library's own, always passes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.utils.transforms import ResizeLongestSide

from resources.sam.fast.decoder import decode_masks

MIN_IOU: Final[float] = 0.99
PROBE_SIDE: Final[int] = 4  # a 4 x 4 grid of point prompts, three masks each
Encode = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Choice:
    dtype: torch.dtype
    worst_iou: float  # of the chosen dtype's probe masks with float32's (1.0 for float32 itself)


def probe_input(sam: Sam) -> torch.Tensor:
    """SAM's preprocessed input (1, 3, S, S) of a fixed probe photo: smooth shapes and seeded noise, 640 x 480."""
    height, width = 480, 640
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    channels = [
        128 + 100 * np.sin(xx / 37.0) * np.cos(yy / 23.0),
        255.0 * ((xx - 320) ** 2 + (yy - 240) ** 2 < 150**2),
        (xx + yy) / (width + height) * 255,
    ]
    photo = np.clip(np.stack(channels, -1) + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    resized = ResizeLongestSide(sam.image_encoder.img_size).apply_image(photo)
    tensor = torch.as_tensor(resized, device=sam.device).permute(2, 0, 1).contiguous()[None]
    return sam.preprocess(tensor)


def probe_masks(sam: Sam, features: torch.Tensor) -> torch.Tensor:
    """The decoder's low-resolution masks (k, 256, 256) bool for a grid of point prompts on embedding (C, h, w)."""
    size = sam.image_encoder.img_size
    ticks = (torch.arange(PROBE_SIDE, dtype=torch.float32) + 0.5) * (size * 0.75 / PROBE_SIDE)
    grid = torch.stack(torch.meshgrid(ticks, ticks, indexing="xy"), -1).reshape(-1, 1, 2).to(sam.device)
    labels = torch.ones(len(grid), 1, dtype=torch.int, device=sam.device)
    sparse, dense = sam.prompt_encoder(points=(grid, labels), boxes=None, masks=None)
    logits, _iou = decode_masks(sam, features, sparse, dense[:1])
    return (logits > sam.mask_threshold).flatten(0, 1)


def worst_iou(masks: torch.Tensor, reference: torch.Tensor) -> float:
    """The lowest IoU of each mask with its reference (two empty masks agree)."""
    overlap = (masks & reference).flatten(1).sum(1).double()
    union = (masks | reference).flatten(1).sum(1).double()
    iou = torch.where(union > 0, overlap / union.clamp(min=1), torch.ones_like(union))
    return float(iou.min().item()) if len(iou) else 1.0


def choose(
    sam: Sam, candidates: Sequence[torch.dtype], encode: Callable[[torch.dtype], Encode], *, min_iou: float = MIN_IOU
) -> Choice:
    """The first of `candidates` (then float32) whose probe masks reach `min_iou` against float32's; `encode(dtype)`
    gives the encoder run with that autocast dtype."""
    with torch.inference_mode():
        probe = probe_input(sam)
        reference = probe_masks(sam, encode(torch.float32)(probe)[0])
        for dtype in candidates:
            if dtype == torch.float32:
                break
            found = worst_iou(probe_masks(sam, encode(dtype)(probe)[0].float()), reference)
            if found >= min_iou:
                return Choice(dtype, found)
    return Choice(torch.float32, 1.0)
