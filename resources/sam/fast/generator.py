"""`generate` / `generate_many`: SamAutomaticMaskGenerator's records, computed in batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import torch
from segment_anything.modeling import Sam
from torchvision.ops.boxes import box_area

from commons.image_io import check_rgb_array
from resources.sam.config import FAST_ENCODER_BATCH, AutoParams
from resources.sam.cutoffs import CutoffTally
from resources.sam.fast.crops import CropMasks, crop_masks
from resources.sam.fast.decode import embed
from resources.sam.fast.encoder import FastEncoder
from resources.sam.fast.grid import Crop, plan_crops
from resources.sam.fast.nms import keep_by_nms
from resources.sam.fast.pool import Pool, gather
from resources.sam.fast.regions import clean_small_regions

BatchCallback = Callable[[int, int], None]
MAX_ENCODER_BATCH: Final[int] = FAST_ENCODER_BATCH  # what resources.sam.cost counts for the fast engine


class _Progress:
    """Calls `on_batch(done, total)` before each decoder batch, as the reference engine does."""

    def __init__(self, on_batch: BatchCallback | None, total: int) -> None:
        self._on_batch, self._total, self._done = on_batch, total, 0

    def step(self) -> None:
        if self._on_batch is not None:
            self._on_batch(self._done, self._total)
        self._done += 1


def generate(
    sam: Sam,
    image: np.ndarray,
    params: AutoParams,
    *,
    on_batch: BatchCallback | None = None,
    tally: CutoffTally | None = None,
    encoder: FastEncoder | None = None,
) -> list[dict[str, Any]]:
    """`SamAutomaticMaskGenerator(sam, **params.as_kwargs()).generate(image)` for an HxWx3 uint8 RGB photo.

    `on_batch(done, total)` is called before each batch of `points_per_batch` prompts and may raise to stop.
    `tally` counts what each cut-off removed, as `resources.sam.infer.segment_auto_tallied` does (the caller
    calls `tally.finish(len(records))`). `encoder`: the model's fast encoder (resources.sam.fast.encoder), e.g.
    a warm worker's compiled form.
    """
    tallies = None if tally is None else [tally]
    return generate_many(sam, [image], params, on_batch=on_batch, tallies=tallies, encoder=encoder)[0]


def generate_many(
    sam: Sam,
    images: Sequence[np.ndarray],
    params: AutoParams,
    *,
    on_batch: BatchCallback | None = None,
    max_batch: int = MAX_ENCODER_BATCH,
    tallies: Sequence[CutoffTally] | None = None,
    encoder: FastEncoder | None = None,
) -> list[list[dict[str, Any]]]:
    """`generate` for each photo, the crops of all photos going through the encoder together, at most `max_batch`
    at a time and, on CUDA, no more than the device's free memory holds (`encoder_batch`).

    `on_batch(done, total)` counts the decoder batches of all photos together; `tallies`, one per photo.
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be ≥ 1 (got {max_batch})")
    if tallies is not None and len(tallies) != len(images):
        raise ValueError(f"give one tally per photo ({len(images)}), got {len(tallies)}")
    for image in images:
        check_rgb_array(image)
    plans = [plan_crops((int(image.shape[0]), int(image.shape[1])), params) for image in images]
    progress = _Progress(on_batch, sum(plan.batches for plan in plans))
    jobs = [(index, crop) for index, plan in enumerate(plans) for crop in plan.crops]
    found: list[list[CropMasks]] = [[] for _ in images]
    per_batch = encoder_batch(sam, max_batch)
    with torch.inference_mode():
        for start in range(0, len(jobs), per_batch):
            group = jobs[start : start + per_batch]
            features, sizes = embed(sam, [_cut(images[index], crop) for index, crop in group], encoder)
            for (index, crop), feature, size in zip(group, features, sizes, strict=True):
                tally = None if tallies is None else tallies[index]
                masks = crop_masks(sam, feature, size, crop, plans[index].size, params, progress.step, tally)
                found[index].append(masks)
    return [_records(images[index], crops, params) for index, crops in enumerate(found)]


def encoder_batch(sam: Sam, most: int) -> int:
    """Crops per encoder batch: `most`, or on CUDA fewer when the device's free memory cannot hold `most` crops'
    activations (estimated from the encoder's size: the global attention's bias and weights dominate)."""
    if sam.device.type != "cuda":
        return most
    encoder = sam.image_encoder
    tokens = (encoder.img_size // encoder.patch_embed.proj.stride[0]) ** 2
    heads = encoder.blocks[0].attn.num_heads
    per_crop = 3 * heads * tokens * tokens * 4  # bias, scores and a spare, float32
    free, _total = torch.cuda.mem_get_info(sam.device)
    return max(1, min(most, int(free * 0.8) // per_crop))


def _cut(image: np.ndarray, crop: Crop) -> np.ndarray:
    x0, y0, x1, y1 = crop.box
    return image[y0:y1, x0:x1, :]


def _records(image: np.ndarray, crops: list[CropMasks], params: AutoParams) -> list[dict[str, Any]]:
    """Cross-crop NMS, small-region cleanup and the library's records for one photo."""
    photo_size = (int(image.shape[0]), int(image.shape[1]))
    pool = gather(crops)
    if len(crops) > 1:
        scores = 1 / box_area(pool.crop_boxes)
        pool = pool.take(keep_by_nms(pool.boxes, scores, params.crop_nms_thresh))
    if params.min_mask_region_area > 0:
        threshold = max(params.box_nms_thresh, params.crop_nms_thresh)
        pool = clean_small_regions(pool, params.min_mask_region_area, threshold, photo_size)
    return _as_records(pool, photo_size)


def _as_records(pool: Pool, photo_size: tuple[int, int]) -> list[dict[str, Any]]:
    masks = pool.masks(torch.arange(len(pool)), photo_size)
    xywh = pool.boxes.clone()
    xywh[:, 2:] -= xywh[:, :2]
    crops = pool.crop_boxes.clone()
    crops[:, 2:] -= crops[:, :2]
    return [
        {
            "segmentation": mask,
            "area": area,
            "bbox": box,
            "predicted_iou": iou,
            "point_coords": [point],
            "stability_score": stability,
            "crop_box": crop_box,
        }
        for mask, area, box, iou, point, stability, crop_box in zip(
            masks,
            pool.areas().tolist(),
            xywh.tolist(),
            pool.iou.tolist(),
            pool.points.tolist(),
            pool.stability.tolist(),
            crops.tolist(),
            strict=True,
        )
    ]
