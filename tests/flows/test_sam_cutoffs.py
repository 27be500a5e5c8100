"""What the quality cut-offs of automatic masks removed: counts that add up, and the library's own masks.

A tiny SAM with random weights: its predicted IoUs are a few hundredths and its stability scores 0, so SAM's
default cut-offs (0.88, 0.95) remove every mask, as they did for the citizen scientist of issue 17.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from segment_anything.modeling import Sam
from skimage import data as skdata

from flows.kinds.sam.progress import BatchProgress, seconds_left
from flows.kinds.sam.summary import photo_summary, summary_bytes
from resources.sam.config import AutoParams, parse_sam_config
from resources.sam.infer import segment_auto, segment_auto_tallied
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Sam:
    config = parse_sam_config(TINY_CONFIG)
    weights = tmp_path_factory.mktemp("sam") / TINY_CONFIG["checkpoint"]
    save_random_weights(config, weights, seed=0)
    return build_sam(config, weights, device="cpu")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(np.asarray(skdata.coffee())[::4, ::4])  # 150 x 100


@pytest.fixture(scope="module")
def candidates(sam: Sam, photo: np.ndarray) -> list[dict[str, Any]]:
    """Every proposal of a 3 x 3 grid: no cut-off, and NMS that removes nothing (box IoU is never above 1)."""
    return segment_auto(sam, photo, AutoParams(points_per_side=3, engine="reference", **OFF))


OFF = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0}


def _removed(summary: dict[str, Any]) -> int:
    return sum(summary["removed"].values())


def test_counts_match_an_independent_count_and_add_up(
    sam: Sam, photo: np.ndarray, candidates: list[dict[str, Any]]
) -> None:
    assert len(candidates) == 27  # 3 masks for each of 9 points
    quality = np.array([c["predicted_iou"] for c in candidates])
    stability = np.array([c["stability_score"] for c in candidates])
    cut = float(np.median(quality))
    params = AutoParams(  # the engine that gave `candidates`: the cut falls exactly on one of their scores
        points_per_side=3, pred_iou_thresh=cut, stability_score_thresh=0.5, box_nms_thresh=1.0, engine="reference"
    )
    records, tally = segment_auto_tallied(sam, photo, params)
    summary = photo_summary("coffee.png", "auto", len(records), tally)
    by_quality = int((quality <= cut).sum())
    by_stability = int(((quality > cut) & (stability < 0.5)).sum())
    assert summary["found"] == 27
    assert summary["removed"]["pred_iou_thresh"] == by_quality > 0
    assert summary["removed"]["stability_score_thresh"] == by_stability
    assert summary["kept"] == len(records) == 27 - by_quality - by_stability
    assert summary["found"] == summary["kept"] + _removed(summary)
    assert json.loads(summary_bytes(summary)) == summary


def test_default_cutoffs_remove_everything_and_a_retry_finds_masks(sam: Sam, photo: np.ndarray) -> None:
    records, tally = segment_auto_tallied(sam, photo, AutoParams(points_per_side=3))
    summary = photo_summary("coffee.png", "auto", len(records), tally)
    assert records == [] and summary["kept"] == 0 and summary["found"] == 27
    assert summary["cutoffs"] == {"pred_iou_thresh": 0.88, "stability_score_thresh": 0.95}
    assert summary["removed"]["pred_iou_thresh"] + summary["removed"]["stability_score_thresh"] == 27
    retry = summary["retry"]
    assert retry is not None and retry["pred_iou_thresh"] < 0.88 and retry["stability_score_thresh"] < 0.95
    again, tally_again = segment_auto_tallied(sam, photo, AutoParams(points_per_side=3, **retry))
    assert again, "the suggested cut-offs keep some masks"
    assert tally_again.as_json()["retry"] is None
    assert tally_again.found == tally_again.kept + sum(tally_again.as_json()["removed"].values())


@pytest.mark.parametrize(
    "extra",
    [
        {"points_per_side": 2, "box_nms_thresh": 0.7},
        {"points_per_side": 1, "crop_n_layers": 1, "min_mask_region_area": 20},
    ],
    ids=["nms", "crops-and-small-regions"],
)
@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_the_masks_are_the_librarys(
    sam: Sam, photo: np.ndarray, candidates: list[dict[str, Any]], extra: dict[str, Any], engine: str
) -> None:
    """Both engines, tallied, give the library's masks: the reference exactly, `fast` to float rounding."""
    cut = float(np.quantile([c["predicted_iou"] for c in candidates], 0.3))
    params = AutoParams(pred_iou_thresh=cut, stability_score_thresh=0.0, **extra)
    reference = segment_auto(sam, photo, params.model_copy(update={"engine": "reference"}))
    tallied = params.model_copy(update={"engine": engine})
    records, tally = segment_auto_tallied(sam, photo, tallied, on_batch=lambda _done, _total: None)
    assert len(records) == len(reference) > 0
    ours_by_score = sorted(records, key=lambda record: -record["predicted_iou"])
    for ours, theirs in zip(ours_by_score, sorted(reference, key=lambda record: -record["predicted_iou"]), strict=True):
        if engine == "reference":
            assert np.array_equal(ours["segmentation"], theirs["segmentation"])
            assert ours["predicted_iou"] == theirs["predicted_iou"] and ours["bbox"] == theirs["bbox"]
        else:
            both = np.logical_and(ours["segmentation"], theirs["segmentation"]).sum()
            either = np.logical_or(ours["segmentation"], theirs["segmentation"]).sum()
            assert either == 0 or both / either >= 0.99
            assert abs(ours["predicted_iou"] - theirs["predicted_iou"]) < 1e-4
    counts = tally.as_json()
    assert counts["found"] == counts["kept"] + sum(counts["removed"].values())
    assert counts["kept"] == len(records)


class _Bar:
    """A stand-in Reporter that only records progress (the real one writes a task row)."""

    def __init__(self) -> None:
        self.fractions: list[float] = []

    def progress(self, fraction: float) -> None:
        self.fractions.append(fraction)


def test_progress_per_batch_with_the_time_left(caplog: pytest.LogCaptureFixture) -> None:
    times = iter([0.0, 10.0, 20.0, 30.0])
    bar = _Bar()
    progress = BatchProgress(bar, count=2, clock=lambda: next(times))  # type: ignore[arg-type]
    caplog.set_level("INFO", logger="flows.kinds.sam.progress")
    for done in range(4):
        progress.for_photo(0)(done, 4)
    assert bar.fractions == [0.0, 0.125, 0.25, 0.375]
    assert "photo 1 of 2: 3 of 4 batches of points done (38 %); about 50 s left" in caplog.messages[-1]
    assert seconds_left(elapsed=10.0, done=0.25) == 30.0
    assert seconds_left(elapsed=10.0, done=0.0) is None


def test_prompt_mode_summary_counts_one_mask_per_prompt(tmp_path: Path) -> None:
    summary = photo_summary("coffee.png", "prompt", 2, None)
    assert summary == {
        "image": "coffee.png",
        "mode": "prompt",
        "found": 2,
        "removed": {},
        "kept": 2,
        "cutoffs": None,
        "retry": None,
    }
