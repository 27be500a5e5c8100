"""`<stem>/summary.json` of a SAM task: for each photo, how many masks were found and what removed the others.

Automatic mode: `found` (SAM's proposals, three per prompt point), `removed` by each cut-off
(`pred_iou_thresh`, `stability_score_thresh`), at a crop's edge and as overlapping duplicates, `kept` (the
masks published; they add up: found = kept + the removed), the `cutoffs` used and, when none was kept, a
`retry` with lower cut-offs under which some pass. Prompt mode: one mask per prompt, none removed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resources.sam.cutoffs import CutoffTally


def photo_summary(name: str, mode: str, kept: int, tally: CutoffTally | None) -> dict[str, Any]:
    """The summary of one photo: `tally`'s counts in automatic mode, `kept` masks of as many prompts otherwise."""
    if tally is None:
        counts: dict[str, Any] = {"found": kept, "removed": {}, "kept": kept, "cutoffs": None, "retry": None}
    else:
        counts = tally.as_json()
    return {"image": name, "mode": mode, **counts}


def summary_bytes(summary: dict[str, Any]) -> bytes:
    return json.dumps(summary, indent=2, sort_keys=True).encode()
