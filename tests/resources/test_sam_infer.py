"""resources.sam.infer and render on real photos with a tiny, randomly initialised (untrained) SAM."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import numpy as np
import pytest
import skimage.data
from PIL import Image
from pycocotools import mask as coco_mask
from segment_anything import SamAutomaticMaskGenerator

from commons.errors import InvalidInput
from resources.sam.config import AutoParams, PromptParams, parse_sam_config
from resources.sam.infer import segment_auto, segment_prompt
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights
from resources.sam.render import render_segmentation, segment_colours

# Random weights give low predicted IoUs and near-whole-image boxes, so box NMS at the default 0.7 keeps
# a single mask; NMS off (1.0) plus small-region cleanup leaves several distinct segments.
AUTO = AutoParams(
    points_per_side=8,
    points_per_batch=8,  # on CPU, smaller batches of prompts run faster than the default 64
    pred_iou_thresh=0.02,
    stability_score_thresh=0.0,
    box_nms_thresh=1.0,
    crop_nms_thresh=1.0,
    min_mask_region_area=400,
    engine="reference",  # the library's generator: compared with a direct run below
)
SEGMENT_KEYS = [
    "id",
    "area",
    "bbox",
    "predicted_iou",
    "stability_score",
    "point_coords",
    "polygons",
    "rle",
    "mask_rle",
    "mask_area",
]


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return skimage.data.coffee()  # 400 x 600 x 3 uint8


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Any:
    config = parse_sam_config(TINY_CONFIG)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_random_weights(config, path, seed=0)
    return build_sam(config, path, device="cpu")


@pytest.fixture(scope="module")
def auto_records(sam: Any, coffee: np.ndarray) -> list[dict[str, Any]]:
    return segment_auto(sam, coffee, AUTO)


@pytest.fixture(scope="module")
def rendered(coffee: np.ndarray, auto_records: list[dict[str, Any]]) -> dict[str, bytes]:
    return _render(
        coffee,
        auto_records,
        ["hard", "blended", "json"],
        image_name="coffee.png",
        image_sha256="ab" * 32,
        resource={"name": "tiny-sam", "version": 1},
        params=AUTO.model_dump(mode="json"),
    )


def _render(image: np.ndarray, records: list[dict[str, Any]], outputs: list[str], **overrides: Any) -> dict[str, bytes]:
    """`render_segmentation` with this file's defaults unless overridden: "c.png", a zero sha256, no resource,
    auto mode, no params."""
    defaults: dict[str, Any] = {
        "image_name": "c.png",
        "image_sha256": "0" * 64,
        "resource": {},
        "mode": "auto",
        "params": {},
    }
    return render_segmentation(image=image, records=records, outputs=outputs, **(defaults | overrides))


def _png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image).copy()


def _decode(rle: dict[str, Any]) -> np.ndarray:
    with warnings.catch_warnings():  # pycocotools 2.0.11's decode trips numpy 2's copy-keyword deprecation
        warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy", DeprecationWarning)
        decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    return decoded.astype(bool)


def _area_order(records: list[dict[str, Any]]) -> list[int]:
    return sorted(range(len(records)), key=lambda i: -int(records[i]["segmentation"].sum()))


def test_auto_records_have_sams_keys(auto_records: list[dict[str, Any]], coffee: np.ndarray) -> None:
    assert len(auto_records) >= 3
    for record in auto_records:
        assert set(record) == {
            "segmentation",
            "area",
            "bbox",
            "predicted_iou",
            "point_coords",
            "stability_score",
            "crop_box",
        }
        assert record["segmentation"].shape == coffee.shape[:2]
        assert record["segmentation"].dtype == np.bool_
        assert record["area"] == int(record["segmentation"].sum())


def test_auto_masks_equal_a_direct_generator_run(
    sam: Any, coffee: np.ndarray, auto_records: list[dict[str, Any]]
) -> None:
    direct = SamAutomaticMaskGenerator(sam, **AUTO.as_kwargs()).generate(coffee)
    assert len(direct) == len(auto_records)
    for ours, theirs in zip(auto_records, direct, strict=True):
        np.testing.assert_array_equal(ours["segmentation"], theirs["segmentation"])
        assert ours["bbox"] == theirs["bbox"]
        assert ours["predicted_iou"] == theirs["predicted_iou"]
        assert ours["stability_score"] == theirs["stability_score"]


def test_rendered_files(rendered: dict[str, bytes], coffee: np.ndarray) -> None:
    assert list(rendered) == ["hard.png", "blended.png", "segments.json", "labels.png"]
    hard, blended, labels = _png(rendered["hard.png"]), _png(rendered["blended.png"]), _png(rendered["labels.png"])
    assert hard.shape == blended.shape == coffee.shape
    assert labels.shape == coffee.shape[:2]
    assert labels.dtype == np.uint16
    np.testing.assert_array_equal(blended[labels == 0], coffee[labels == 0])
    assert (hard[labels == 0] == 0).all()


def test_labels_paint_larger_first(rendered: dict[str, bytes], auto_records: list[dict[str, Any]]) -> None:
    expected = np.zeros(auto_records[0]["segmentation"].shape, dtype=np.uint16)
    for segment_id, index in enumerate(_area_order(auto_records), start=1):
        expected[auto_records[index]["segmentation"]] = segment_id
    np.testing.assert_array_equal(_png(rendered["labels.png"]), expected)


def test_segments_json(rendered: dict[str, bytes], auto_records: list[dict[str, Any]], coffee: np.ndarray) -> None:
    document = json.loads(rendered["segments.json"])
    assert list(document) == ["image", "resource", "mode", "params", "segments"]
    assert document["image"] == {"name": "coffee.png", "width": 600, "height": 400, "sha256": "ab" * 32}
    assert document["resource"] == {"name": "tiny-sam", "version": 1}
    assert (document["mode"], document["params"]) == ("auto", AUTO.model_dump(mode="json"))
    labels = _png(rendered["labels.png"])
    segments = document["segments"]
    assert [s["id"] for s in segments] == list(range(1, len(auto_records) + 1))
    for segment, index in zip(segments, _area_order(auto_records), strict=True):
        record = auto_records[index]
        assert list(segment) == SEGMENT_KEYS
        visible = labels == segment["id"]
        np.testing.assert_array_equal(_decode(segment["rle"]), visible)
        np.testing.assert_array_equal(_decode(segment["mask_rle"]), record["segmentation"])
        assert segment["area"] == int(visible.sum())
        assert segment["mask_area"] == record["area"]
        assert segment["predicted_iou"] == pytest.approx(record["predicted_iou"])
        if visible.any():
            ys, xs = np.nonzero(visible)
            x0, y0 = int(xs.min()), int(ys.min())
            assert segment["bbox"] == [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]
            assert segment["polygons"]
        for polygon in segment["polygons"]:
            points = np.array(polygon)
            assert ((points[:, 0] >= 0) & (points[:, 0] < 600) & (points[:, 1] >= 0) & (points[:, 1] < 400)).all()
            assert visible[points[:, 1], points[:, 0]].all()
    assert [s["mask_area"] for s in segments] == sorted((s["mask_area"] for s in segments), reverse=True)
    assert sum(1 for s in segments if s["area"] > 0) >= 2


def test_colours_are_distinct_and_not_black(rendered: dict[str, bytes]) -> None:
    hard, labels = _png(rendered["hard.png"]), _png(rendered["labels.png"])
    seen = {}
    for segment_id in np.unique(labels[labels > 0]):
        colours = np.unique(hard[labels == segment_id], axis=0)
        assert len(colours) == 1
        seen[int(segment_id)] = tuple(colours[0])
    assert len(set(seen.values())) == len(seen) >= 2
    assert (0, 0, 0) not in seen.values()
    palette = segment_colours(5000)
    assert len({tuple(c) for c in palette[1:]}) == 5000
    assert (palette[1:].max(axis=1) >= 150).all()


def test_outputs_select_files(coffee: np.ndarray, auto_records: list[dict[str, Any]]) -> None:
    def render(outputs: list[str]) -> dict[str, bytes]:
        return _render(coffee, auto_records, outputs)

    assert list(render(["hard"])) == ["hard.png", "labels.png"]
    assert list(render(["blended"])) == ["blended.png", "labels.png"]
    with pytest.raises(InvalidInput, match="unknown outputs"):
        render(["svg"])


def test_render_synthetic_records_exactly() -> None:
    image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)

    def box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        mask = np.zeros((40, 60), dtype=bool)
        mask[y0:y1, x0:x1] = True
        return mask

    big = box(5, 35, 5, 55)
    big[15:20, 20:25] = False  # a hole
    records = [
        {"segmentation": box(30, 34, 50, 54), "predicted_iou": 0.5, "stability_score": 0.4, "point_coords": [[51, 31]]},
        {"segmentation": big, "predicted_iou": 0.9, "stability_score": float("nan"), "point_coords": [[6.5, 6.5]]},
        {"segmentation": box(8, 14, 8, 20), "predicted_iou": 0.7, "stability_score": 0.8, "point_coords": []},
        {"segmentation": box(30, 34, 50, 54), "predicted_iou": 0.2, "stability_score": 0.1, "point_coords": [[52, 32]]},
        {"segmentation": np.zeros((40, 60), dtype=bool), "predicted_iou": 0.1, "stability_score": None},
    ]
    files = _render(
        image, records, ["hard", "blended", "json"], image_name="s.png", image_sha256="1" * 64, mode="prompt"
    )
    segments = json.loads(files["segments.json"])["segments"]
    labels = _png(files["labels.png"])
    # ids by SAM area: big (1475) → 1, the 6x12 box (72) → 2, the two equal 4x4 squares → 3, 4, empty → 5
    assert [s["mask_area"] for s in segments] == [1475, 72, 16, 16, 0]
    assert [s["point_coords"] for s in segments[:4]] == [[[6.5, 6.5]], [], [[51.0, 31.0]], [[52.0, 32.0]]]
    assert segments[0]["stability_score"] is None
    assert segments[0]["area"] == 1475 - 72 - 16
    assert segments[0]["bbox"] == [5, 5, 50, 30]
    assert len(segments[0]["polygons"]) == 1  # the hole is not a polygon
    assert segments[1]["bbox"] == [8, 8, 12, 6]
    assert segments[2]["area"] == 0  # hidden under the identical, later-painted square
    assert (segments[2]["bbox"], segments[2]["polygons"]) == ([0, 0, 0, 0], [])
    assert segments[3]["bbox"] == [50, 30, 4, 4]
    assert (segments[4]["area"], segments[4]["mask_area"], segments[4]["rle"]["size"]) == (0, 0, [40, 60])
    for segment in segments:
        np.testing.assert_array_equal(_decode(segment["rle"]), labels == segment["id"])
    assert labels[17, 22] == 0  # inside the hole
    colours = segment_colours(5)
    blended = _png(files["blended.png"])
    assert (blended[25, 30] == (image[25, 30].astype(int) + colours[1] + 1) // 2).all()  # inside, off the outline
    assert (blended[5, 30] == 255).all()  # on the big segment's outline
    assert (_png(files["hard.png"])[25, 30] == colours[1]).all()


def test_render_refuses_bad_records(coffee: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match=r"records\[0\]\.segmentation must be a 400x600 bool array"):
        _render(coffee, [{"segmentation": np.zeros((4, 4))}], ["json"], image_name="c", image_sha256="0")


def test_prompt_with_a_point_and_a_box(sam: Any, coffee: np.ndarray) -> None:
    prompt = PromptParams(points=[(300, 200, 1)], boxes=[(100, 50, 400, 300), (0, 0, 600, 400)])
    records = segment_prompt(sam, coffee, prompt)
    assert len(records) == 2
    for record in records:
        assert record["segmentation"].shape == (400, 600)
        assert record["point_coords"] == [[300.0, 200.0]]
        assert record["crop_box"] == [0, 0, 600, 400]
        assert isinstance(record["predicted_iou"], float)
    again = segment_prompt(sam, coffee, prompt)
    for first, second in zip(records, again, strict=True):
        np.testing.assert_array_equal(first["segmentation"], second["segmentation"])
    files = _render(coffee, records, ["json"], mode="prompt", params=prompt.model_dump(mode="json"))
    assert len(json.loads(files["segments.json"])["segments"]) == 2


def test_prompt_points_only_and_single_mask(sam: Any) -> None:
    astronaut = skimage.data.astronaut()  # 512 x 512
    records = segment_prompt(sam, astronaut, PromptParams(points=[(100, 100, 1), (400, 300, 0)], multimask=False))
    assert len(records) == 1
    assert records[0]["segmentation"].shape == (512, 512)
    assert records[0]["point_coords"] == [[100.0, 100.0], [400.0, 300.0]]
    boxes_only = segment_prompt(sam, astronaut, PromptParams(boxes=[(10, 10, 200, 300)]))
    assert boxes_only[0]["point_coords"] == []


def test_prompt_outside_the_photo_is_refused(sam: Any, coffee: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match=r"params\.prompt\.points\[0\]: point \(x=700, y=10\) is outside"):
        segment_prompt(sam, coffee, PromptParams(points=[(700, 10, 1)]))


def test_image_must_be_rgb_uint8(sam: Any, coffee: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="HxWx3 uint8"):
        segment_auto(sam, coffee.astype(np.float32), AUTO)
    with pytest.raises(InvalidInput, match="HxWx3 uint8"):
        segment_prompt(sam, coffee[:, :, 0], PromptParams(points=[(1, 1, 1)]))
