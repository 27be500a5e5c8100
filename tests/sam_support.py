"""A tiny SAM with random (UNTRAINED) weights for the tests, built as a version's weights file would be."""

from __future__ import annotations

from pathlib import Path

import torch
from segment_anything.modeling import Sam

from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights


def tiny_sam(folder: Path, *, seed: int = 0, device: str = "cpu", rel_pos: bool = False) -> Sam:
    """The tiny SAM of `TINY_CONFIG` with seeded random weights. The library initialises the image encoder's
    relative-position tables to zero; `rel_pos` fills them with small random values too, so that a test sees the
    attention's relative-position term at work."""
    config = parse_sam_config(TINY_CONFIG)
    weights = folder / config.checkpoint
    save_random_weights(config, weights, seed=seed)
    sam = build_sam(config, weights, device=device)
    if rel_pos:
        generator = torch.Generator().manual_seed(seed + 1)
        for block in sam.image_encoder.blocks:
            for table in (block.attn.rel_pos_h, block.attn.rel_pos_w):
                table.data = (torch.randn(table.shape, generator=generator) * 0.5).to(table.device)
    return sam
