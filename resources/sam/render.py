"""Turn SAM mask records into the task's output files: hard mask, blended mask, label map, JSON.

Segments are sorted by SAM's mask area, largest first, and numbered 1..N in that order. They are painted
in that order too, so a smaller segment stays visible on top of a larger one it overlaps; the `labels`
map (HxW uint16, 0 = no segment) holds the id visible at each pixel. Everything per segment in the
JSON (`area`, `bbox`, `polygons`, `rle`) describes that visible region, i.e. exactly `labels == id`;
`mask_rle`/`mask_area` keep SAM's full mask, overlaps included. Coordinates are pixels, x right, y down.
"""

from __future__ import annotations

import colorsys
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import cv2
import numpy as np
from pycocotools import mask as coco_mask

from commons.errors import InvalidInput
from commons.image_io import check_rgb_array, encode_png

OUTPUT_FILES: Final[dict[str, tuple[str, ...]]] = {
    "hard": ("hard.png",),
    "blended": ("blended.png",),
    "json": ("segments.json", "labels.png"),
}
MAX_SEGMENTS: Final[int] = 65535  # ids must fit the uint16 label map
OUTLINE: Final[tuple[int, int, int]] = (255, 255, 255)
_GOLDEN: Final[float] = (math.sqrt(5.0) - 1.0) / 2.0


def render_segmentation(
    *,
    image: np.ndarray,
    image_name: str,
    image_sha256: str,
    records: Sequence[Mapping[str, Any]],
    resource: dict[str, Any],
    mode: str,
    params: dict[str, Any],
    outputs: Sequence[str],
) -> dict[str, bytes]:
    """File name → bytes for the requested outputs; `labels.png` (uint16 label map) is always included.

    image: HxWx3 uint8 RGB photo; records: SAM mask records whose `segmentation` is an HxW bool array.
    hard.png: HxWx3 RGB, each visible segment in its own colour, background black.
    blended.png: the photo with segment colours blended at alpha 0.5 and 1-px white region outlines.
    segments.json: see the module docstring.
    """
    unknown = [name for name in outputs if name not in OUTPUT_FILES]
    if unknown:
        raise InvalidInput(f"unknown outputs {unknown}; choose from {sorted(OUTPUT_FILES)}", field="outputs")
    check_rgb_array(image)
    height, width = image.shape[:2]
    masks = [_mask_of(record, index, height, width) for index, record in enumerate(records)]
    if len(masks) > MAX_SEGMENTS:
        raise InvalidInput(f"{len(masks)} segments do not fit a uint16 label map (at most {MAX_SEGMENTS})")
    order = sorted(range(len(masks)), key=lambda index: -int(np.count_nonzero(masks[index])))
    labels = np.zeros((height, width), dtype=np.uint16)
    for segment_id, index in enumerate(order, start=1):
        labels[masks[index]] = segment_id
    colours = segment_colours(len(order))
    files: dict[str, bytes] = {}
    if "hard" in outputs:
        files["hard.png"] = encode_png(colours[labels])
    if "blended" in outputs:
        files["blended.png"] = encode_png(_blend(image, labels, colours, [masks[i] for i in order]))
    if "json" in outputs:
        segments = [
            _segment_json(segment_id, records[index], masks[index], labels)
            for segment_id, index in enumerate(order, start=1)
        ]
        document = {
            "image": {"name": image_name, "width": width, "height": height, "sha256": image_sha256},
            "resource": resource,
            "mode": mode,
            "params": params,
            "segments": segments,
        }
        files["segments.json"] = json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")
    files["labels.png"] = encode_png(labels)
    return files


def segment_colours(count: int) -> np.ndarray:
    """(count + 1) x 3 uint8 RGB: row 0 black (background), row i the colour of segment id i.

    Hue steps by the golden ratio and saturation/value follow their own low-discrepancy sequences,
    so neighbouring ids differ strongly; every colour is distinct and none is black or dark.
    """
    colours = np.zeros((count + 1, 3), dtype=np.uint8)
    seen = {(0, 0, 0)}
    step = 0
    for segment_id in range(1, count + 1):
        while True:
            step += 1
            hue = (step * _GOLDEN) % 1.0
            saturation = 0.45 + 0.5 * ((step * math.sqrt(2.0)) % 1.0)
            value = 0.6 + 0.4 * ((step * math.sqrt(3.0) + 0.5) % 1.0)
            red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
            colour = (round(red * 255), round(green * 255), round(blue * 255))
            if colour not in seen:
                break
        seen.add(colour)
        colours[segment_id] = colour
    return colours


def _mask_of(record: Mapping[str, Any], index: int, height: int, width: int) -> np.ndarray:
    mask = record.get("segmentation")
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (height, width):
        shape = getattr(mask, "shape", None)
        raise InvalidInput(
            f"records[{index}].segmentation must be a {height}x{width} bool array (got shape {shape})",
            field=f"records[{index}].segmentation",
        )
    return np.ascontiguousarray(mask)


def _visible_crop(mask: np.ndarray, labels: np.ndarray, segment_id: int) -> tuple[np.ndarray, int, int]:
    """(uint8 crop of labels == id, x, y offset); the visible region lies inside SAM's mask's box."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    return (labels[y : y + h, x : x + w] == segment_id).astype(np.uint8), x, y


def _blend(image: np.ndarray, labels: np.ndarray, colours: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """HxWx3 uint8: photo and segment colour averaged where labels > 0, then white region outlines."""
    blended = image.copy()
    painted = labels > 0
    mixed = image[painted].astype(np.uint16) + colours[labels[painted]].astype(np.uint16) + 1
    blended[painted] = (mixed // 2).astype(np.uint8)
    for segment_id, mask in enumerate(masks, start=1):
        crop, x, y = _visible_crop(mask, labels, segment_id)
        if crop.size and crop.any():
            contours, _ = cv2.findContours(crop, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE, offset=(x, y))
            cv2.drawContours(blended, contours, -1, OUTLINE, thickness=1)
    return blended


def _segment_json(segment_id: int, record: Mapping[str, Any], mask: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    height, width = labels.shape
    crop, x, y = _visible_crop(mask, labels, segment_id)
    visible = np.zeros((height, width), dtype=np.uint8, order="F")
    visible[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
    polygons: list[Any] = []  # each a list of [x, y] int pixel positions
    if crop.size and crop.any():
        contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(x, y))
        polygons = [contour.reshape(-1, 2).tolist() for contour in contours]
    rle = coco_mask.encode(visible)
    raw_rle = coco_mask.encode(np.asfortranarray(mask.view(np.uint8)))
    return {
        "id": segment_id,
        "area": int(coco_mask.area(rle)),
        "bbox": [int(v) for v in coco_mask.toBbox(rle)],
        "predicted_iou": _number(record.get("predicted_iou")),
        "stability_score": _number(record.get("stability_score")),
        "point_coords": [[float(v) for v in point] for point in record.get("point_coords") or []],
        "polygons": polygons,
        "rle": _rle_json(rle),
        "mask_rle": _rle_json(raw_rle),
        "mask_area": int(np.count_nonzero(mask)),
    }


def _rle_json(rle: dict[str, Any]) -> dict[str, Any]:
    """COCO compressed RLE with `counts` as text, as in COCO annotation files."""
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _number(value: Any) -> float | None:
    """A JSON-safe float: None for a missing, NaN or infinite value."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
