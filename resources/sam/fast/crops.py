"""All masks of one crop: its prompts in decoder batches, each batch filtered, then box NMS within the crop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.utils.amg import calculate_stability_score

from resources.sam.config import AutoParams
from resources.sam.cutoffs import CutoffTally
from resources.sam.fast.batched import MaskBatch, concat_batches, filter_batch, keep_confident, select_batch
from resources.sam.fast.decode import decode_low_res, upscale
from resources.sam.fast.grid import Crop
from resources.sam.fast.nms import keep_by_nms

Step = Callable[[], None]


@dataclass(frozen=True)
class CropMasks:
    """What a crop keeps: masks in the crop's frame; boxes and points already in photo pixels."""

    box: tuple[int, int, int, int]
    masks: MaskBatch


def crop_masks(
    sam: Sam,
    features: torch.Tensor,
    input_size: tuple[int, int],
    crop: Crop,
    photo_size: tuple[int, int],
    params: AutoParams,
    step: Step,
    tally: CutoffTally | None = None,
) -> CropMasks:
    """Masks of `crop` from its image embedding `features` (C, h, w); `step()` runs before each batch, and
    `tally` (if given) counts what each cut-off removes, as resources.sam.infer's reference engine does."""
    batches = []
    per_batch = params.points_per_batch
    for start in range(0, len(crop.points), per_batch):
        step()
        batches.append(_batch(sam, features, input_size, crop, photo_size, params, start, tally))
    masks = concat_batches(batches, crop.size)
    masks = select_batch(masks, keep_by_nms(masks.boxes, masks.iou, params.box_nms_thresh))
    x0, y0 = crop.box[:2]
    shifted = MaskBatch(
        masks.rle,
        masks.boxes + torch.tensor([[x0, y0, x0, y0]]),
        masks.iou,
        masks.stability,
        masks.points + torch.tensor([[x0, y0]]),
    )
    return CropMasks(crop.box, shifted)


def _batch(
    sam: Sam,
    features: torch.Tensor,
    input_size: tuple[int, int],
    crop: Crop,
    photo_size: tuple[int, int],
    params: AutoParams,
    start: int,
    tally: CutoffTally | None,
) -> MaskBatch:
    """The masks of the prompts `start`, `start + 1`, … of one batch that pass the library's filters."""
    points = crop.points[start : start + params.points_per_batch]
    threshold = float(sam.mask_threshold)
    low_res, iou = decode_low_res(sam, features, points, crop.size)
    kept = keep_confident(iou, params)
    passed = 0
    if tally is None:  # masks below the predicted-IoU cut-off are never upscaled
        logits = upscale(sam, low_res[kept], input_size, crop.size)
    else:
        every = upscale(sam, low_res, input_size, crop.size)
        passed = _observe(tally, every, iou, params, threshold)
        logits = every[kept]
    prompts = torch.as_tensor(np.repeat(points, 3, axis=0))[kept.cpu()]
    batch = filter_batch(
        logits, iou[kept], prompts, params, mask_threshold=threshold, crop_box=crop.box, photo_size=photo_size
    )
    if tally is not None:
        tally.survived_batch(passed=passed, survived=len(batch.iou))
    return batch


def _observe(tally: CutoffTally, logits: torch.Tensor, iou: torch.Tensor, params: AutoParams, threshold: float) -> int:
    """Count one batch's proposals removed by each cut-off (as the reference engine does); how many pass both."""
    stability = calculate_stability_score(logits, threshold, params.stability_score_offset)
    keep = iou > params.pred_iou_thresh if params.pred_iou_thresh > 0.0 else torch.ones_like(iou, dtype=torch.bool)
    by_quality = int((~keep).sum().item())
    if params.stability_score_thresh > 0.0:
        keep = keep & (stability >= params.stability_score_thresh)
    passing = int(keep.sum().item())
    tally.observe(
        quality=iou.float().cpu().numpy(),
        stability=stability.float().cpu().numpy(),
        by_quality=by_quality,
        by_stability=len(iou) - by_quality - passing,
    )
    return passing
