"""A SAM task's segments as a COCO results file, for every tool that reads COCO (pycocotools' `loadRes`, COCO
evaluation, FiftyOne, CVAT…).

With the `json` output, the task writes at the top of its outputs, beside the per-photo folders:

- `segments.coco.json`: the results, a list of `{image_id, category_id, segmentation, score, bbox, area,
  segment_id}`, one per segment of every photo; `segmentation` is the compressed RLE of the segment's visible
  region (`pycocotools.mask.encode` of `labels == segment_id`, the same RLE as `segments.json`), `score` SAM's
  predicted IoU, `segment_id` the segment's id in the photo's `labels.png` and `segments.json`;
- `images.coco.json`: the COCO document they refer to, its `images` (id: the photo's position among the
  task's inputs, from 1; file name, width, height, sha256) and one category (1, `segment`: SAM does not name
  what it segments), without annotations, so `COCO("images.coco.json").loadRes("segments.coco.json")` loads
  them as they are.

pycocotools' `loadRes` reads results that carry a `bbox` as detections: it sets each `area` to the box's.
For COCO's mask evaluation (`COCOeval(..., "segm")`) drop `bbox` from the results first, as detectron2 does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

RESULTS_FILE: Final = "segments.coco.json"
IMAGES_FILE: Final = "images.coco.json"
CATEGORY: Final = {"id": 1, "name": "segment", "supercategory": ""}


@dataclass
class CocoResults:
    """The results of one task, gathered photo by photo from their `segments.json`."""

    resource: dict[str, Any] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *, image_id: int, segments_json: bytes) -> None:
        """The photo `image_id` (its position among the inputs, from 1) and its segments."""
        document = json.loads(segments_json)
        image = document["image"]
        self.resource = document.get("resource") or self.resource
        self.images.append(
            {
                "id": image_id,
                "file_name": image["name"],
                "width": image["width"],
                "height": image["height"],
                "sha256": image["sha256"],
            }
        )
        for segment in document["segments"]:
            if segment["area"] <= 0:  # hidden under smaller segments: no visible region to describe
                continue
            self.results.append(
                {
                    "image_id": image_id,
                    "category_id": CATEGORY["id"],
                    "segmentation": segment["rle"],
                    "score": segment["predicted_iou"] if segment["predicted_iou"] is not None else 0.0,
                    "bbox": segment["bbox"],
                    "area": segment["area"],
                    "segment_id": segment["id"],
                }
            )

    def write(self, folder: Path) -> list[Path]:
        """Write both files under `folder` (nothing when no photo was added: the task wrote no `segments.json`)."""
        if not self.images:
            return []
        document = {
            "info": {"description": "the photos of a segmenter.sam task", "resource": self.resource},
            "images": self.images,
            "categories": [CATEGORY],
            "annotations": [],
        }
        written = []
        for name, content in ((IMAGES_FILE, document), (RESULTS_FILE, self.results)):
            path = folder / name
            path.write_text(json.dumps(content, ensure_ascii=False, allow_nan=False), encoding="utf-8")
            written.append(path)
        return written
