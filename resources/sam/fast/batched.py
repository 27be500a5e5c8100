"""One decoder batch's masks, filtered as the library filters them, with no loop over masks.

The library's order is kept: predicted IoU, stability score, binary masks and their boxes, masks touching
a crop edge that is not a photo edge; the survivors are run-length encoded together.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from segment_anything.utils.amg import batched_mask_to_box, calculate_stability_score, is_box_near_crop_edge

from resources.sam.config import AutoParams
from resources.sam.fast.rle import BatchedRle, concat, encode, select


@dataclass(frozen=True)
class MaskBatch:
    """Masks of one crop, in the crop's own frame, with what the records need."""

    rle: BatchedRle
    boxes: torch.Tensor  # (n, 4) int64 XYXY, crop pixels
    iou: torch.Tensor  # (n,) float32, the model's predicted IoU
    stability: torch.Tensor  # (n,) float32
    points: torch.Tensor  # (n, 2) float64, the prompt that gave the mask, crop pixels


def keep_confident(iou: torch.Tensor, params: AutoParams) -> torch.Tensor:
    """Indices of the masks whose predicted IoU passes `pred_iou_thresh` (all of them at 0, as the library)."""
    if params.pred_iou_thresh > 0.0:
        return torch.nonzero(iou > params.pred_iou_thresh).flatten()
    return torch.arange(len(iou))


def filter_batch(
    logits: torch.Tensor,
    iou: torch.Tensor,
    points: torch.Tensor,
    params: AutoParams,
    *,
    mask_threshold: float,
    crop_box: tuple[int, int, int, int],
    photo_size: tuple[int, int],
) -> MaskBatch:
    """The masks of (n, h, w) float `logits` (already filtered by predicted IoU) that the library keeps.

    `logits` and `iou` may be on any device, `points` (n, 2) is on the CPU; the batch comes back on the CPU."""
    stability = calculate_stability_score(logits, mask_threshold, params.stability_score_offset)
    if params.stability_score_thresh > 0.0:
        stable = stability >= params.stability_score_thresh
        logits, iou, points, stability = logits[stable], iou[stable], points[stable.cpu()], stability[stable]
    masks = logits > mask_threshold
    boxes = batched_mask_to_box(masks)
    height, width = photo_size
    inside = ~is_box_near_crop_edge(boxes, list(crop_box), [0, 0, width, height])
    if not bool(torch.all(inside)):
        masks, boxes, iou, stability = masks[inside], boxes[inside], iou[inside], stability[inside]
        points = points[inside.cpu()]
    return MaskBatch(encode(masks), boxes.cpu(), iou.cpu(), stability.cpu(), points)


def concat_batches(batches: list[MaskBatch], size: tuple[int, int]) -> MaskBatch:
    """One batch holding the masks of `batches` (all of crop size `size`) in order."""
    return MaskBatch(
        concat([batch.rle for batch in batches], size),
        torch.cat([batch.boxes for batch in batches]) if batches else torch.zeros(0, 4, dtype=torch.int64),
        torch.cat([batch.iou for batch in batches]) if batches else torch.zeros(0),
        torch.cat([batch.stability for batch in batches]) if batches else torch.zeros(0),
        torch.cat([batch.points for batch in batches]) if batches else torch.zeros(0, 2, dtype=torch.float64),
    )


def select_batch(batch: MaskBatch, indices: torch.Tensor) -> MaskBatch:
    """The masks at `indices`, in that order."""
    return MaskBatch(
        select(batch.rle, indices),
        batch.boxes[indices],
        batch.iou[indices],
        batch.stability[indices],
        batch.points[indices],
    )
