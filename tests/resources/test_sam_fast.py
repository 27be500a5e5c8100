"""The `fast` automatic-mask engine (resources.sam.fast) against the library's generator (`reference`), on real
photos with a tiny, randomly initialised SAM: the same masks, scores and boxes, progress and cancellation."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from segment_anything.utils.amg import mask_to_rle_pytorch

from resources.sam.config import AutoParams
from resources.sam.cutoffs import CutoffTally
from resources.sam.fast import generate, generate_many
from resources.sam.fast.batched import MaskBatch
from resources.sam.fast.crops import CropMasks
from resources.sam.fast.decoder import decode_masks
from resources.sam.fast.pool import gather
from resources.sam.fast.rle import concat, counts, decode, encode, select
from resources.sam.infer import segment_auto, segment_auto_tallied
from tests.sam_support import tiny_sam

pytestmark = pytest.mark.usefixtures("two_threads")

Records = list[dict[str, Any]]

# Random weights give low predicted IoUs and near-whole-photo boxes: thresholds low and NMS loose so that
# hundreds of masks survive, which is where the engines' bookkeeping could differ.
LOOSE = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0, "engine": "reference"}
CASES = {
    # 256 prompts, no crops, no cleanup: 768 masks
    "grid10": AutoParams(points_per_side=10, points_per_batch=64, **LOOSE),
    # one crop layer (5 crops, 64 + 4 x 16 prompts), NMS between crops, small-region cleanup
    "crops": AutoParams(
        points_per_side=8,
        points_per_batch=32,
        pred_iou_thresh=0.01,
        stability_score_thresh=0.0,
        box_nms_thresh=1.0,
        engine="reference",
        crop_n_layers=1,
        crop_nms_thresh=1.0,
        crop_n_points_downscale_factor=2,
        min_mask_region_area=60,
    ),
    # a threshold that removes some masks, cleanup of small regions
    "cleanup": AutoParams(
        points_per_side=8,
        points_per_batch=16,
        pred_iou_thresh=0.02,
        stability_score_thresh=0.0,
        box_nms_thresh=1.0,
        engine="reference",
        min_mask_region_area=100,
    ),
}


def _photo(name: str, width: int) -> np.ndarray:
    image = Image.fromarray(getattr(skimage.data, name)()[..., :3])
    return np.asarray(image.resize((width, round(image.height * width / image.width))))


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_sam(tmp_path_factory.mktemp("weights"), rel_pos=True)  # the encoders' attentions differ most there


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {"astronaut": _photo("astronaut", 96), "coffee": _photo("coffee", 150), "chelsea": _photo("chelsea", 120)}


def assert_same_masks(reference: Records, fast: Records) -> None:
    """One-to-one: each reference mask has a fast mask from the same prompt and crop with IoU ≥ 0.99 and the
    same scores within 1e-4; box and area agree as well."""
    assert len(fast) == len(reference)
    by_prompt: dict[tuple[float, ...], list[int]] = defaultdict(list)
    for index, record in enumerate(fast):
        by_prompt[_prompt(record)].append(index)
    for record in reference:
        candidates = by_prompt[_prompt(record)]
        assert candidates, f"no fast mask from prompt {record['point_coords']} in crop {record['crop_box']}"
        ious = [_iou(record["segmentation"], fast[index]["segmentation"]) for index in candidates]
        best = candidates.pop(int(np.argmax(ious)))
        twin = fast[best]
        assert max(ious) >= 0.99
        for key in ("predicted_iou", "stability_score"):
            assert twin[key] == pytest.approx(record[key], abs=1e-4, nan_ok=True)
        assert abs(twin["area"] - record["area"]) <= 0.01 * max(record["area"], 1)
        assert np.abs(np.subtract(twin["bbox"], record["bbox"])).max() <= 1


def _prompt(record: dict[str, Any]) -> tuple[float, ...]:
    """The prompt and crop of a record, as floats: the library's boxes turn float when some crop has no mask."""
    return tuple(float(v) for v in [*record["point_coords"][0], *record["crop_box"]])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


@pytest.mark.parametrize(("case", "photo", "at_least"), [("grid10", "astronaut", 250), ("crops", "coffee", 5)])
def test_fast_matches_reference(sam: Any, photos: dict[str, np.ndarray], case: str, photo: str, at_least: int) -> None:
    params = CASES[case]
    reference = segment_auto(sam, photos[photo], params)  # CASES name the reference engine
    fast = generate(sam, photos[photo], params)
    assert len(reference) >= at_least
    assert_same_masks(reference, fast)
    for record in fast:
        assert record["segmentation"].shape == photos[photo].shape[:2]
        assert record["segmentation"].dtype == bool
        assert record["area"] == int(record["segmentation"].sum())


def test_many_photos_in_one_encoder_batch_match_reference(sam: Any, photos: dict[str, np.ndarray]) -> None:
    params = CASES["cleanup"]
    images = [photos["chelsea"], photos["coffee"]]
    fast = generate_many(sam, images, params, max_batch=2)
    for image, records in zip(images, fast, strict=True):
        reference = segment_auto(sam, image, params)
        assert len(reference) >= 5
        assert_same_masks(reference, records)


def test_on_batch_reports_progress_and_can_cancel(sam: Any, photos: dict[str, np.ndarray]) -> None:
    params = AutoParams(points_per_side=4, points_per_batch=4, **LOOSE)  # 16 prompts: 4 batches
    seen: list[tuple[int, int]] = []
    generate(sam, photos["chelsea"], params, on_batch=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4)]

    class Cancelled(Exception):
        pass

    def cancel_at_second(done: int, total: int) -> None:
        if done == 1:
            raise Cancelled

    with pytest.raises(Cancelled):
        generate(sam, photos["chelsea"], params, on_batch=cancel_at_second)


def test_decoder_equals_the_librarys(sam: Any) -> None:
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(256, 64, 64, generator=generator)
    points = torch.rand(6, 1, 2, generator=generator) * 1024
    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(points=(points, torch.ones(6, 1, dtype=torch.int)), boxes=None, masks=None)
        expected, expected_iou = sam.mask_decoder(
            image_embeddings=features[None],
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        masks, iou = decode_masks(sam, features, sparse, dense[:1])
    assert masks.shape == expected.shape == (6, 3, 256, 256)
    assert (masks - expected).abs().max().item() < 1e-4 * max(1.0, expected.abs().max().item())
    assert (iou - expected_iou).abs().max().item() < 1e-5


def test_rle_round_trip_and_library_counts() -> None:
    generator = torch.Generator().manual_seed(2)
    masks = torch.rand(5, 7, 9, generator=generator) > 0.5
    masks[1] = False  # empty
    masks[2] = True  # full: starts with a run of ones
    rle = encode(masks)
    assert torch.equal(decode(rle), masks)
    assert rle.areas.tolist() == masks.sum((1, 2)).tolist()
    library = mask_to_rle_pytorch(masks)
    assert [counts(rle, index) for index in range(5)] == [item["counts"] for item in library]
    picked = select(rle, torch.tensor([3, 0]))
    assert torch.equal(decode(picked), masks[[3, 0]])
    assert torch.equal(decode(concat([picked, rle], (7, 9))), torch.cat([masks[[3, 0]], masks]))


def test_cutoff_tally_matches_the_reference_engines(sam: Any, photos: dict[str, np.ndarray]) -> None:
    params = AutoParams(
        points_per_side=4, points_per_batch=8, pred_iou_thresh=0.02, stability_score_thresh=0.0, engine="reference"
    )
    reference, expected = segment_auto_tallied(sam, photos["coffee"], params)
    tally = CutoffTally(params.pred_iou_thresh, params.stability_score_thresh)
    fast = generate(sam, photos["coffee"], params, tally=tally)
    tally.finish(len(fast))
    assert expected.removed_by_quality > 0
    assert tally.as_json() == expected.as_json()
    assert_same_masks(reference, fast)


def test_masks_of_a_crop_land_at_the_crops_place_in_the_photo() -> None:
    crop_mask = torch.zeros(1, 4, 6, dtype=torch.bool)
    crop_mask[0, 1:3, 2:5] = True
    batch = MaskBatch(
        encode(crop_mask),
        torch.tensor([[12, 6, 14, 7]]),
        torch.tensor([0.5]),
        torch.tensor([0.9]),
        torch.tensor([[13.0, 6.0]], dtype=torch.float64),
    )
    pool = gather([CropMasks((10, 5, 16, 9), batch)])
    (mask,) = pool.masks(torch.arange(1), (20, 30))
    expected = np.zeros((20, 30), dtype=bool)
    expected[6:8, 12:15] = True
    assert np.array_equal(mask, expected)
    assert pool.areas().tolist() == [6]
    assert pool.crop_boxes.tolist() == [[10, 5, 16, 9]]
