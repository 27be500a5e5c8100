"""Run SAM on one photo: automatic masks over a point grid, or masks for given points and boxes.

Both functions return SAM's mask records (see `segment_anything.SamAutomaticMaskGenerator.generate`):
  segmentation     HxW bool numpy array, True inside the mask, at the photo's own resolution
  area             int, number of True pixels
  bbox             [x, y, w, h] ints, SAM's convention: w = x_max - x_min with x_max inclusive
  predicted_iou    float, the model's own estimate of the mask's quality
  point_coords     list of [x, y] float pixel coordinates of the point prompts used
  stability_score  float, IoU of the mask logits thresholded at mask_threshold ± 1.0
  crop_box         [x, y, w, h] ints, the part of the photo the mask was predicted on
Coordinates are pixels of the photo passed in (x right, y down), not SAM's 1024-pixel input frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor
from segment_anything.modeling import Sam
from segment_anything.utils.amg import batched_mask_to_box, box_xyxy_to_xywh, calculate_stability_score

from commons.errors import InvalidInput
from commons.image_io import check_rgb_array
from resources.sam.config import AutoParams, PromptParams
from resources.sam.cutoffs import CutoffTally
from resources.sam.embedding import ImageEmbedding, predictor_for

if TYPE_CHECKING:
    from resources.sam.fast.encoder import FastEncoder

STABILITY_OFFSET: Final[float] = 1.0  # SamAutomaticMaskGenerator's default stability_score_offset


BatchCallback = Callable[[int, int], None]


class _ReportingMaskGenerator(SamAutomaticMaskGenerator):
    """The library's generator, calling `on_batch(done, total)` before each batch of point prompts and, given a
    `tally`, counting what each quality cut-off removes.

    The callback may raise to stop the run between batches (cancellation); it sees the same batches the
    library would run, so results are unchanged. The tally watches the library's own predictions (each
    batch's masks and predicted IoUs, as `predict_torch` returns them) and computes the stability score as the
    library does; the library's filtering runs untouched, so the masks are the library's.
    """

    def __init__(self, sam: Sam, *, on_batch: BatchCallback, tally: CutoffTally | None = None, **kwargs: Any) -> None:
        super().__init__(sam, **kwargs)
        self._on_batch = on_batch
        self._tally = tally
        self._done = 0
        layers = range(len(self.point_grids))
        self._total = sum(
            (2**layer) ** 2 * math.ceil(len(self.point_grids[layer]) / self.points_per_batch) for layer in layers
        )

    def _process_batch(self, *args: Any, **kwargs: Any) -> Any:
        self._on_batch(self._done, self._total)
        self._done += 1
        tally = self._tally
        if tally is None:
            return super()._process_batch(*args, **kwargs)
        predict = self.predictor.predict_torch
        passed: list[int] = []

        def observed(*p_args: Any, **p_kwargs: Any) -> Any:
            masks, iou_preds, low_res = predict(*p_args, **p_kwargs)
            passed.append(self._observe(tally, masks.flatten(0, 1), iou_preds.flatten(0, 1)))
            return masks, iou_preds, low_res

        self.predictor.predict_torch = observed  # this batch only
        try:
            data = super()._process_batch(*args, **kwargs)
        finally:
            del self.predictor.predict_torch  # the class's method again
        tally.survived_batch(passed=sum(passed), survived=len(data["iou_preds"]))
        return data

    def _observe(self, tally: CutoffTally, masks: torch.Tensor, iou_preds: torch.Tensor) -> int:
        """Count one batch's proposals removed by each cut-off, as `_process_batch` filters them; returns how
        many pass both."""
        stability = calculate_stability_score(masks, self.predictor.model.mask_threshold, self.stability_score_offset)
        keep = torch.ones_like(iou_preds, dtype=torch.bool)
        if self.pred_iou_thresh > 0.0:
            keep = iou_preds > self.pred_iou_thresh
        by_quality = int((~keep).sum().item())
        if self.stability_score_thresh > 0.0:
            keep = keep & (stability >= self.stability_score_thresh)
        passing = int(keep.sum().item())
        tally.observe(
            quality=iou_preds.float().cpu().numpy(),
            stability=stability.float().cpu().numpy(),
            by_quality=by_quality,
            by_stability=len(iou_preds) - by_quality - passing,
        )
        return passing


def segment_auto(
    sam: Sam,
    image: np.ndarray,
    params: AutoParams,
    *,
    on_batch: BatchCallback | None = None,
    encoder: FastEncoder | None = None,
) -> list[dict[str, Any]]:
    """Automatic masks for an HxWx3 uint8 RGB photo: `SamAutomaticMaskGenerator(sam, **params)`.

    The generator's records are returned unchanged (output_mode "binary_mask"); see the module docstring.
    `on_batch(done, total)` is called before each batch of `points_per_batch` prompts (progress, and a
    place to stop a cancelled run by raising). `encoder` (engine `fast` only): the model's fast encoder, e.g. a
    warm worker's compiled form (resources.sam.fast.encoder).
    """
    check_rgb_array(image)
    if params.engine == "fast":
        from resources.sam.fast import generate

        return generate(sam, image, params, on_batch=on_batch, encoder=encoder)
    kwargs = {"output_mode": "binary_mask", **params.as_kwargs()}
    generator = (
        SamAutomaticMaskGenerator(sam, **kwargs)
        if on_batch is None
        else _ReportingMaskGenerator(sam, on_batch=on_batch, **kwargs)
    )
    with torch.inference_mode():
        records: list[dict[str, Any]] = generator.generate(image)
    return records


def segment_auto_tallied(
    sam: Sam,
    image: np.ndarray,
    params: AutoParams,
    *,
    on_batch: BatchCallback | None = None,
    encoder: FastEncoder | None = None,
) -> tuple[list[dict[str, Any]], CutoffTally]:
    """`segment_auto`'s records (the same masks), and what each quality cut-off removed (see
    `resources.sam.cutoffs`)."""
    check_rgb_array(image)
    tally = CutoffTally(params.pred_iou_thresh, params.stability_score_thresh)
    records: list[dict[str, Any]]
    if params.engine == "fast":
        from resources.sam.fast import generate

        records = generate(sam, image, params, on_batch=on_batch, tally=tally, encoder=encoder)
    else:
        kwargs = {"output_mode": "binary_mask", **params.as_kwargs()}
        generator = _ReportingMaskGenerator(sam, on_batch=on_batch or _ignore, tally=tally, **kwargs)
        with torch.inference_mode():
            records = generator.generate(image)
    tally.finish(len(records))
    return records, tally


def _ignore(_done: int, _total: int) -> None:
    return None


def segment_prompt(
    sam: Sam, image: np.ndarray, params: PromptParams, *, embedding: ImageEmbedding | None = None
) -> list[dict[str, Any]]:
    """One mask per prompt for an HxWx3 uint8 RGB photo, via `SamPredictor.predict`.

    Prompts: every box is one prompt, together with all the points; with no boxes, all the points
    form a single prompt. Points are [x, y, label] and boxes [x0, y0, x1, y1] (XYXY), in pixels of
    `image`. With `params.multimask` SAM proposes three masks per prompt and the one with the highest
    predicted IoU is kept. `stability_score` is computed as the automatic generator does it, with
    `calculate_stability_score` on the full-resolution logits (H x W float32) at offset 1.0; it is
    NaN for an empty mask. Records come in prompt order; `crop_box` is the whole photo.

    Given the photo's `embedding` (`resources.sam.embedding.embed` of this `image` under this `sam`), the image
    encoder does not run: the predictor is primed with it, and the masks are those `set_image` would give.
    """
    check_rgb_array(image)
    height, width = image.shape[:2]
    params.check_inside(width, height)
    coords = np.array([[x, y] for x, y, _ in params.points], dtype=np.float32).reshape(-1, 2)
    labels = np.array([label for _, _, label in params.points], dtype=np.int64)
    point_coords = coords if len(coords) else None
    point_labels = labels if len(labels) else None
    boxes: list[np.ndarray | None] = [np.array(box, dtype=np.float32) for box in params.boxes] or [None]
    records = []
    with torch.inference_mode():
        predictor = _primed(sam, image, embedding)
        for box in boxes:
            logits, scores, _ = predictor.predict(
                point_coords=point_coords,
                point_labels=point_labels,
                box=box,
                multimask_output=params.multimask,
                return_logits=True,
            )
            best = int(np.argmax(scores))
            records.append(mask_record(logits[best], float(scores[best]), float(sam.mask_threshold), coords))
        predictor.reset_image()
    return records


def _primed(sam: Sam, image: np.ndarray, embedding: ImageEmbedding | None) -> SamPredictor:
    """A predictor with `image` set: by the encoder, or from the photo's `embedding`."""
    if embedding is None:
        predictor = SamPredictor(sam)
        predictor.set_image(image)
        return predictor
    height, width = image.shape[:2]
    if embedding.original_size != (height, width):
        raise InvalidInput(
            f"the image embedding was made for a {embedding.original_size[1]}x{embedding.original_size[0]} photo, "
            f"not this {width}x{height} one; compute it again for this photo"
        )
    return predictor_for(sam, embedding)


def mask_record(logits: np.ndarray, score: float, threshold: float, coords: np.ndarray) -> dict[str, Any]:
    """A mask record from one HxW float32 logit map (pixel resolution of the photo)."""
    logits_t = torch.from_numpy(np.ascontiguousarray(logits))[None]
    mask_t = logits_t > threshold
    height, width = logits.shape
    return {
        "segmentation": mask_t[0].numpy(),
        "area": int(mask_t.sum().item()),
        "bbox": box_xyxy_to_xywh(batched_mask_to_box(mask_t)[0]).tolist(),
        "predicted_iou": score,
        "point_coords": coords.astype(np.float64).tolist(),
        "stability_score": float(calculate_stability_score(logits_t, threshold, STABILITY_OFFSET)[0].item()),
        "crop_box": [0, 0, width, height],
    }
