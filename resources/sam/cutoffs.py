"""What the quality cut-offs of automatic masks did to one photo: how many masks SAM proposed, how many each
cut-off removed, and lower cut-offs that would keep some when none passed (numpy only, no torch).

SAM's automatic generator proposes three masks per prompt point, then removes, in this order: those whose
predicted IoU is not above `pred_iou_thresh` (the quality cut-off), those of the rest whose stability score is
below `stability_score_thresh`, those touching the edge of a crop (only with crop layers), and overlapping
duplicates (box NMS within and across crops, again after small regions are removed). So
`found = removed_by_quality + removed_by_stability + removed_at_crop_edge + removed_as_duplicates + kept`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

# A retry keeps about the best tenth of the proposals by predicted IoU, and half of those by stability.
RETRY_QUALITY_QUANTILE: Final[float] = 0.9
RETRY_STABILITY_QUANTILE: Final[float] = 0.5


def _floor2(value: float) -> float:
    """`value` rounded down to two decimals, and not below 0 (a cut-off of 0 turns the filter off)."""
    return max(0.0, math.floor(value * 100) / 100)


@dataclass
class CutoffTally:
    """Counts over every batch of every crop of one photo; `finish` completes them."""

    pred_iou_thresh: float
    stability_score_thresh: float
    found: int = 0
    removed_by_quality: int = 0
    removed_by_stability: int = 0
    removed_at_crop_edge: int = 0
    removed_as_duplicates: int = 0
    kept: int = 0
    _quality: list[np.ndarray] = field(default_factory=list, repr=False)
    _stability: list[np.ndarray] = field(default_factory=list, repr=False)
    _passed: int = field(default=0, repr=False)

    def observe(self, *, quality: np.ndarray, stability: np.ndarray, by_quality: int, by_stability: int) -> None:
        """One batch: every proposal's predicted IoU and stability, and how many each cut-off removed."""
        self.found += len(quality)
        self.removed_by_quality += by_quality
        self.removed_by_stability += by_stability
        self._quality.append(np.asarray(quality, dtype=np.float32))
        self._stability.append(np.asarray(stability, dtype=np.float32))

    def survived_batch(self, *, passed: int, survived: int) -> None:
        """Of the batch's `passed` proposals (both cut-offs), `survived` were not at a crop's edge."""
        self.removed_at_crop_edge += passed - survived
        self._passed += survived

    def finish(self, kept: int) -> None:
        """The generator returned `kept` masks: the others that passed were overlapping duplicates."""
        self.kept = kept
        self.removed_as_duplicates = self._passed - kept

    def suggestion(self) -> dict[str, float] | None:
        """Lower cut-offs under which some of the proposals pass, when none passed; None when some did, none
        were found, or the cut-offs are not what removed them."""
        if self.kept or not self.found or not (self.removed_by_quality or self.removed_by_stability):
            return None
        quality = np.concatenate(self._quality)
        stability = np.concatenate(self._stability)
        quality_cut = min(self.pred_iou_thresh, _floor2(float(np.quantile(quality, RETRY_QUALITY_QUANTILE))))
        passing = stability[quality > quality_cut] if quality_cut > 0 else stability
        if not len(passing):  # every score equal to the cut: turn the quality filter off
            quality_cut, passing = 0.0, stability
        stability_cut = min(self.stability_score_thresh, _floor2(float(np.quantile(passing, RETRY_STABILITY_QUANTILE))))
        return {"pred_iou_thresh": quality_cut, "stability_score_thresh": stability_cut}

    def as_json(self) -> dict[str, Any]:
        """The counts as `summary.json` records them, with the cut-offs used and the suggested retry."""
        return {
            "cutoffs": {
                "pred_iou_thresh": self.pred_iou_thresh,
                "stability_score_thresh": self.stability_score_thresh,
            },
            "found": self.found,
            "removed": {
                "pred_iou_thresh": self.removed_by_quality,
                "stability_score_thresh": self.removed_by_stability,
                "crop_edge": self.removed_at_crop_edge,
                "duplicates": self.removed_as_duplicates,
            },
            "kept": self.kept,
            "retry": self.suggestion(),
        }
