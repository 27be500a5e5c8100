"""Run-length encoding of many binary masks at once, in torch.

A `BatchedRle` holds n masks of one size as the places where each mask's column-major (Fortran order,
COCO's) pixel sequence changes value: one flat tensor of change positions for all masks plus per-mask
offsets into it, the first pixel's value and the area. Encoding and decoding are a few tensor operations
for the whole batch, with no Python loop over masks or runs; the memory grows with the masks' edges, not
with their pixels, as the library's per-mask RLE lists do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BatchedRle:
    """n masks of `size` (height, width), run-length encoded in column-major order."""

    size: tuple[int, int]
    first: torch.Tensor  # (n,) bool: value of pixel (0, 0)
    changes: torch.Tensor  # (K,) int64: p where pixel p+1 differs from pixel p (column-major)
    offsets: torch.Tensor  # (n+1,) int64: mask i's changes are changes[offsets[i]:offsets[i+1]]
    areas: torch.Tensor  # (n,) int64

    def __len__(self) -> int:
        return len(self.first)

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1]


def encode(masks: torch.Tensor) -> BatchedRle:
    """Encode an (n, h, w) bool tensor (on any device; the encoding is on the CPU)."""
    n, height, width = masks.shape
    flat = masks.transpose(1, 2).reshape(n, height * width)
    rows, positions = torch.nonzero(flat[:, 1:] ^ flat[:, :-1], as_tuple=True)  # row-major: grouped by mask
    counts = torch.bincount(rows, minlength=n) if n else torch.zeros(0, dtype=torch.int64)
    offsets = torch.zeros(n + 1, dtype=torch.int64, device=masks.device)
    offsets[1:] = torch.cumsum(counts, 0)
    first = flat[:, 0] if height * width else torch.zeros(n, dtype=torch.bool, device=masks.device)
    return BatchedRle(
        (height, width),
        first.cpu(),
        positions.to(torch.int64).cpu(),
        offsets.cpu(),
        flat.sum(1, dtype=torch.int64).cpu(),
    )


def select(rle: BatchedRle, indices: torch.Tensor) -> BatchedRle:
    """The masks at `indices` (int64), in that order."""
    indices = indices.to(torch.int64).cpu()
    starts = rle.offsets[indices]
    lengths = rle.offsets[indices + 1] - starts
    offsets = torch.zeros(len(indices) + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(lengths, 0)
    total = int(offsets[-1])
    within = torch.arange(total) - torch.repeat_interleave(offsets[:-1], lengths)
    gathered = rle.changes[torch.repeat_interleave(starts, lengths) + within]
    return BatchedRle(rle.size, rle.first[indices], gathered, offsets, rle.areas[indices])


def concat(parts: Sequence[BatchedRle], size: tuple[int, int]) -> BatchedRle:
    """The masks of `parts` (all of `size`) one after the other."""
    if not parts:
        empty = torch.zeros(0, dtype=torch.int64)
        return BatchedRle(size, torch.zeros(0, dtype=torch.bool), empty, torch.zeros(1, dtype=torch.int64), empty)
    shifts = torch.cumsum(torch.tensor([0] + [len(part.changes) for part in parts[:-1]]), 0)
    offsets = [parts[0].offsets[:1]] + [part.offsets[1:] + shift for part, shift in zip(parts, shifts, strict=True)]
    return BatchedRle(
        size,
        torch.cat([part.first for part in parts]),
        torch.cat([part.changes for part in parts]),
        torch.cat(offsets),
        torch.cat([part.areas for part in parts]),
    )


def decode(rle: BatchedRle) -> torch.Tensor:
    """All masks as an (n, h, w) bool tensor."""
    n, (height, width) = len(rle), rle.size
    toggles = torch.zeros(n, rle.pixels, dtype=torch.int32)
    if rle.pixels:
        toggles[:, 0] = rle.first.to(torch.int32)
        rows = torch.repeat_interleave(torch.arange(n), rle.offsets[1:] - rle.offsets[:-1])
        toggles[rows, rle.changes + 1] = 1
    parity = torch.cumsum(toggles, 1, dtype=torch.int32) & 1
    return parity.to(torch.bool).reshape(n, width, height).transpose(1, 2)


def counts(rle: BatchedRle, index: int) -> list[int]:
    """Mask `index` as the library's uncompressed-RLE counts (runs alternating from a run of zeros)."""
    changes = rle.changes[rle.offsets[index] : rle.offsets[index + 1]]
    bounds = torch.cat([torch.zeros(1, dtype=torch.int64), changes + 1, torch.tensor([rle.pixels])])
    runs: list[int] = torch.diff(bounds).tolist()
    return [0, *runs] if bool(rle.first[index]) else runs
