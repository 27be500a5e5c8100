"""How far two engines' automatic masks agree: each mask against its counterparts of the same prompt and crop."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np


def worst_mask_iou(reference: list[dict[str, Any]], candidate: list[dict[str, Any]]) -> float:
    """The lowest IoU of a reference mask with its best counterpart among the candidate masks of the same prompt and
    crop (automatic-mask records, see resources.sam.infer); 0.0 where a prompt has no counterpart."""
    by_prompt: dict[tuple[float, ...], list[np.ndarray]] = defaultdict(list)
    for record in candidate:
        by_prompt[_prompt(record)].append(record["segmentation"])
    worst = 1.0
    for record in reference:
        mask = record["segmentation"]
        best = 0.0
        for other in by_prompt[_prompt(record)]:
            union = int(np.logical_or(mask, other).sum())
            best = max(best, 1.0 if union == 0 else int(np.logical_and(mask, other).sum()) / union)
        worst = min(worst, best)
    return worst


def _prompt(record: dict[str, Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in [*record["point_coords"][0], *record["crop_box"]])
