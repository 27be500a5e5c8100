"""Small disconnected regions and holes removed as the library does (OpenCV connected components, per mask),
then box NMS preferring masks that needed no change."""

from __future__ import annotations

import numpy as np
import torch
from segment_anything.utils.amg import batched_mask_to_box, remove_small_regions

from resources.sam.fast.nms import keep_by_nms
from resources.sam.fast.pool import DECODE_CHUNK, Pool
from resources.sam.fast.rle import concat, encode


def clean_small_regions(pool: Pool, min_area: int, nms_threshold: float, photo_size: tuple[int, int]) -> Pool:
    """`SamAutomaticMaskGenerator.postprocess_small_regions` on `pool`: the masks NMS keeps, changed ones
    replaced by their cleaned form."""
    if len(pool) == 0:
        return pool
    changed: list[int] = []
    cleaned: list[np.ndarray] = []
    for start in range(0, len(pool), DECODE_CHUNK):
        indices = torch.arange(start, min(start + DECODE_CHUNK, len(pool)))
        for index, mask in zip(indices.tolist(), pool.masks(indices, photo_size), strict=True):
            mask, filled = remove_small_regions(mask, min_area, mode="holes")
            mask, trimmed = remove_small_regions(mask, min_area, mode="islands")
            if filled or trimmed:
                changed.append(index)
                cleaned.append(mask)
    height, width = photo_size
    stores = []
    boxes = pool.boxes.clone()
    for start in range(0, len(cleaned), DECODE_CHUNK):
        chunk = torch.from_numpy(np.stack(cleaned[start : start + DECODE_CHUNK]))
        stores.append(encode(chunk))
        boxes[changed[start : start + DECODE_CHUNK]] = batched_mask_to_box(chunk).to(boxes.dtype)
    unchanged = torch.ones(len(pool))
    unchanged[changed] = 0.0
    keep = keep_by_nms(boxes, unchanged, nms_threshold)
    replaced = pool.restore(
        torch.tensor(changed, dtype=torch.int64), concat(stores, photo_size), (0, 0, width, height), boxes[changed]
    )
    return replaced.take(keep)
