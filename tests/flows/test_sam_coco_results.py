"""A SAM task's COCO results (`segments.coco.json` over `images.coco.json`) load with pycocotools' `loadRes`,
and every result decodes to its segment's visible region in the photo's label map."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from flows.kinds.sam.coco_results import IMAGES_FILE, RESULTS_FILE, CocoResults
from resources.sam.render import render_segmentation


def records(height: int, width: int, boxes: list[tuple[int, int, int, int]]) -> list[dict[str, Any]]:
    """SAM-like records of rectangles (x0, y0, x1, y1), with their predicted IoU."""
    found = []
    for index, (x0, y0, x1, y1) in enumerate(boxes):
        mask = np.zeros((height, width), dtype=bool)
        mask[y0:y1, x0:x1] = True
        found.append({"segmentation": mask, "predicted_iou": 0.5 + index / 10, "stability_score": 0.9})
    return found


def rendered(name: str, image: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> dict[str, bytes]:
    height, width = image.shape[:2]
    return render_segmentation(
        image=image,
        image_name=name,
        image_sha256=name * 4,
        records=records(height, width, boxes),
        resource={"name": "owner/sam", "version": 1, "digest": "sha256:x"},
        mode="auto",
        params={},
        outputs=["json"],
    )


def test_results_load_with_load_res_and_decode_to_the_label_maps(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8), rng.integers(0, 255, (30, 20, 3), dtype=np.uint8)
    photos = {
        "first.png": (first, [(0, 0, 30, 20), (10, 5, 50, 35), (2, 2, 8, 8)]),
        # the middle box hides under the two others entirely: no visible region, no result
        "second.jpg": (second, [(0, 0, 20, 15), (0, 0, 20, 30), (0, 15, 20, 30)]),
    }
    coco = CocoResults()
    files = {}
    for image_id, (name, (image, boxes)) in enumerate(photos.items(), start=1):
        files[name] = rendered(name, image, boxes)
        coco.add(image_id=image_id, segments_json=files[name]["segments.json"])
    written = coco.write(tmp_path)
    assert [path.name for path in written] == [IMAGES_FILE, RESULTS_FILE]

    ground = COCO(str(tmp_path / IMAGES_FILE))
    results = ground.loadRes(str(tmp_path / RESULTS_FILE))
    raw = json.loads((tmp_path / RESULTS_FILE).read_text())  # loadRes numbers them in file order, from 1
    assert [image["file_name"] for image in ground.loadImgs(ground.getImgIds())] == list(photos)
    assert results.loadCats(results.getCatIds()) == [{"id": 1, "name": "segment", "supercategory": ""}]
    for image_id, name in enumerate(photos, start=1):
        labels = np.asarray(Image.open(io.BytesIO(files[name]["labels.png"])))
        segments = {s["id"]: s for s in json.loads(files[name]["segments.json"])["segments"]}
        painted = np.zeros_like(labels)
        found = results.loadAnns(results.getAnnIds(imgIds=[image_id]))
        assert {a["segment_id"] for a in found} == {i for i, s in segments.items() if s["area"] > 0}
        for annotation in found:
            mask = results.annToMask(annotation).astype(bool)
            segment_id = annotation["segment_id"]
            assert np.array_equal(mask, labels == segment_id), f"{name} segment {segment_id}"
            # loadRes takes `area` from the bbox when results have one (as detection results); the segment's own:
            assert mask_utils.area(annotation["segmentation"]) == segments[segment_id]["area"] == mask.sum()
            assert raw[annotation["id"] - 1]["area"] == mask.sum()
            assert annotation["score"] == segments[segment_id]["predicted_iou"]
            assert annotation["bbox"] == segments[segment_id]["bbox"]
            painted[mask] = segment_id
        assert np.array_equal(painted, labels), "the results together are the label map"
    last = {s["id"]: s for s in json.loads(files["second.jpg"]["segments.json"])["segments"]}
    assert min(s["area"] for s in last.values()) == 0, "the test covers a hidden segment"


def test_nothing_written_without_segments_json(tmp_path: Path) -> None:
    assert CocoResults().write(tmp_path) == []
    assert list(tmp_path.iterdir()) == []
