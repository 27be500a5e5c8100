"""Where the prompts go: the library's crop boxes and per-layer point grids for one photo size."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from segment_anything.utils.amg import build_all_layer_point_grids, generate_crop_boxes

from resources.sam.config import AutoParams


@dataclass(frozen=True)
class Crop:
    """One crop of a photo: its XYXY box in photo pixels and its point prompts in crop pixels (float64)."""

    box: tuple[int, int, int, int]
    points: np.ndarray  # (n, 2) x, y

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the crop."""
        x0, y0, x1, y1 = self.box
        return y1 - y0, x1 - x0


@dataclass(frozen=True)
class CropPlan:
    """Every crop of a photo of `size` (height, width), in the library's order, and the batches they need."""

    size: tuple[int, int]
    crops: tuple[Crop, ...]
    points_per_batch: int

    @property
    def batches(self) -> int:
        """How many decoder batches of `points_per_batch` prompts the photo takes (the progress total)."""
        return sum(math.ceil(len(crop.points) / self.points_per_batch) for crop in self.crops)


def plan_crops(size: tuple[int, int], params: AutoParams) -> CropPlan:
    """The crops and prompts `SamAutomaticMaskGenerator(**params)` uses on a photo of `size` (height, width)."""
    grids = build_all_layer_point_grids(
        params.points_per_side, params.crop_n_layers, params.crop_n_points_downscale_factor
    )
    boxes, layers = generate_crop_boxes(size, params.crop_n_layers, params.crop_overlap_ratio)
    crops = []
    for box, layer in zip(boxes, layers, strict=True):
        x0, y0, x1, y1 = (int(v) for v in box)
        scale = np.array([[x1 - x0, y1 - y0]], dtype=np.float64)
        crops.append(Crop((x0, y0, x1, y1), grids[layer] * scale))
    return CropPlan(size, tuple(crops), params.points_per_batch)
