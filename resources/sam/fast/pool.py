"""The candidate masks of one photo, gathered from its crops, as flat tensors plus where each mask is stored."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from resources.sam.fast.crops import CropMasks
from resources.sam.fast.rle import BatchedRle, decode, select

Box = tuple[int, int, int, int]
DECODE_CHUNK = 16  # masks decoded together: memory is 4 bytes a pixel each


@dataclass(frozen=True)
class Pool:
    """N masks: mask i is row `local[i]` of `stores[source[i]]`, an RLE placed at that store's XYXY box."""

    stores: tuple[tuple[BatchedRle, Box], ...]
    source: torch.Tensor  # (N,) int64
    local: torch.Tensor  # (N,) int64
    boxes: torch.Tensor  # (N, 4) int64 XYXY, photo pixels
    iou: torch.Tensor  # (N,) float32
    stability: torch.Tensor  # (N,) float32
    points: torch.Tensor  # (N, 2) float64, photo pixels
    crop_boxes: torch.Tensor  # (N, 4) int64 XYXY

    def __len__(self) -> int:
        return len(self.source)

    def take(self, indices: torch.Tensor) -> Pool:
        """The masks at `indices`, in that order."""
        return Pool(
            self.stores,
            self.source[indices],
            self.local[indices],
            self.boxes[indices],
            self.iou[indices],
            self.stability[indices],
            self.points[indices],
            self.crop_boxes[indices],
        )

    def areas(self) -> torch.Tensor:
        """(N,) int64 pixel counts."""
        areas = torch.zeros(len(self), dtype=torch.int64)
        for index, (rle, _box) in enumerate(self.stores):
            here = self.source == index
            areas[here] = rle.areas[self.local[here]]
        return areas

    def masks(self, indices: torch.Tensor, photo_size: tuple[int, int]) -> list[np.ndarray]:
        """Masks `indices` as HxW bool arrays of the photo, decoded store by store, `DECODE_CHUNK` at a time."""
        out: list[np.ndarray] = [np.zeros(0, dtype=bool)] * len(indices)
        for index, (rle, (x0, y0, x1, y1)) in enumerate(self.stores):
            positions = torch.nonzero(self.source[indices] == index).flatten()
            for start in range(0, len(positions), DECODE_CHUNK):
                chunk = positions[start : start + DECODE_CHUNK]
                decoded = decode(select(rle, self.local[indices][chunk])).numpy()
                for position, crop_mask in zip(chunk.tolist(), decoded, strict=True):
                    mask = np.zeros(photo_size, dtype=bool)
                    mask[y0:y1, x0:x1] = crop_mask
                    out[position] = mask
        return out

    def restore(self, indices: torch.Tensor, store: BatchedRle, box: Box, boxes: torch.Tensor) -> Pool:
        """This pool with masks `indices` now rows 0.. of `store` (placed at `box`) and boxed by `boxes`."""
        source, local, new_boxes = self.source.clone(), self.local.clone(), self.boxes.clone()
        source[indices] = len(self.stores)
        local[indices] = torch.arange(len(indices))
        new_boxes[indices] = boxes
        return Pool(
            (*self.stores, (store, box)),
            source,
            local,
            new_boxes,
            self.iou,
            self.stability,
            self.points,
            self.crop_boxes,
        )


def gather(crops: list[CropMasks]) -> Pool:
    """One pool holding every crop's masks, crop after crop."""
    stores = tuple((crop.masks.rle, crop.box) for crop in crops)
    sizes = [len(crop.masks.rle) for crop in crops]
    return Pool(
        stores,
        torch.repeat_interleave(torch.arange(len(crops)), torch.tensor(sizes, dtype=torch.int64)),
        torch.cat([torch.arange(size) for size in sizes]),
        torch.cat([crop.masks.boxes for crop in crops]),
        torch.cat([crop.masks.iou for crop in crops]),
        torch.cat([crop.masks.stability for crop in crops]),
        torch.cat([crop.masks.points for crop in crops]),
        torch.cat([torch.tensor([crop.box]).repeat(size, 1) for crop, size in zip(crops, sizes, strict=True)]),
    )
