"""Label Studio ⇄ commons: an annotator's keypoints and rectangles as SAM prompts (pixels of the photo), and a
task's outputs as Label Studio regions (SAM masks as brush RLE, classifier top classes as choices)."""

from __future__ import annotations

import uuid
from typing import Any, Final

import numpy as np
from pycocotools import mask as coco_mask

from commons.errors import InvalidInput
from services.label_studio.brush_rle import encode_mask
from services.label_studio.label_config import Control, LabelConfig

DEFAULT_LABEL: Final = "Object"


def _percent(region: dict[str, Any], key: str, index: int) -> float:
    value = (region.get("value") or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidInput(
            f"params.context.result[{index}].value.{key}: must be a percentage 0 to 100 (got {value!r})",
            field=f"params.context.result[{index}]",
        )
    return float(value)


def sam_params(context: list[dict[str, Any]], *, width: int, height: int) -> dict[str, Any]:
    """A SAM infer task's params: prompts from the annotator's keypoints (`is_positive` false: background) and
    rectangles (Label Studio gives percentages of the photo), decoded by the fast engine; automatic masks when
    there are none."""
    points: list[list[float | int]] = []
    boxes: list[list[float]] = []
    for index, region in enumerate(context):
        kind = region.get("type")
        if kind == "keypointlabels":
            x = min(_percent(region, "x", index) * width / 100, width - 0.5)
            y = min(_percent(region, "y", index) * height / 100, height - 0.5)
            points.append([x, y, 0 if region.get("is_positive") is False else 1])
        elif kind == "rectanglelabels":
            x0, y0 = _percent(region, "x", index) * width / 100, _percent(region, "y", index) * height / 100
            x1 = min(x0 + _percent(region, "width", index) * width / 100, float(width))
            y1 = min(y0 + _percent(region, "height", index) * height / 100, float(height))
            if x1 > x0 and y1 > y0:
                boxes.append([x0, y0, x1, y1])
    if not points and not boxes:
        return {"mode": "auto", "outputs": ["json"]}
    prompt = {"points": points, "boxes": boxes, "multimask": False, "engine": "fast"}
    return {"mode": "prompt", "outputs": ["json"], "prompt": prompt}


def brush_label(config: LabelConfig, context: list[dict[str, Any]]) -> str:
    """The label for SAM's masks: the one the annotator's prompt carries when the brush has it, else the brush's
    first label."""
    brush = config.brush
    offered = brush.values if brush else ()
    for region in context:
        value = region.get("value") or {}
        for key in ("keypointlabels", "rectanglelabels"):
            for label in value.get(key) or []:
                if label in offered:
                    return str(label)
    return offered[0] if offered else DEFAULT_LABEL


def _region_id() -> str:
    return uuid.uuid4().hex[:10]


def brush_regions(
    segments: dict[str, Any], *, brush: Control, label: str, meta: dict[str, Any]
) -> tuple[list[dict[str, Any]], float | None]:
    """SAM's masks (whole, overlaps kept: `mask_rle`) as brush regions, and their mean predicted IoU."""
    image = segments["image"]
    regions, scores = [], []
    for segment in segments["segments"]:
        rle = dict(segment["mask_rle"])
        mask = np.asarray(coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}))
        score = segment.get("predicted_iou")
        if score is not None:
            scores.append(float(score))
        regions.append(
            {
                "id": _region_id(),
                "from_name": brush.name,
                "to_name": brush.to_name,
                "type": "brushlabels",
                "original_width": int(image["width"]),
                "original_height": int(image["height"]),
                "image_rotation": 0,
                "value": {"format": "rle", "rle": encode_mask(mask), "brushlabels": [label]},
                "score": score,
                "meta": meta,
            }
        )
    return regions, (sum(scores) / len(scores) if scores else None)


def choice_region(
    prediction: dict[str, Any], *, choices: Control, meta: dict[str, Any]
) -> tuple[list[dict[str, Any]], float | None]:
    """A classifier's most probable class that the Choices offer (all classes when it lists none) as a choice."""
    offered = set(choices.values)
    ranked = [entry for entry in prediction["top"] if not offered or entry["label"] in offered]
    if not ranked:
        return [], None
    best = ranked[0]
    region = {
        "id": _region_id(),
        "from_name": choices.name,
        "to_name": choices.to_name,
        "type": "choices",
        "value": {"choices": [best["label"]]},
        "score": float(best["probability"]),
        "meta": meta,
    }
    return [region], float(best["probability"])
