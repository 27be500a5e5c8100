"""The version's SAM for a task: on the task's device, perhaps the warm worker's cached copy."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from commons.errors import InvalidWeights
from flows.steps.model_cache import cached_model
from flows.steps.prepare import Prepared

if TYPE_CHECKING:
    from segment_anything.modeling import Sam

    from resources.sam.config import SamConfig


def load_sam(prepared: Prepared, config: SamConfig) -> Sam:
    """The version's SAM on the task's device (perhaps the warm worker's cached copy); records `model_load_s`."""
    from resources.sam.model import build_sam

    weights = prepared.weights.get(config.checkpoint)
    if weights is None:
        raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
    with prepared.timed("model_load"):
        sam = cached_model(
            digest=prepared.version_record.digest,
            device=prepared.device,
            load=partial(build_sam, config, weights.path, device=prepared.device),
            timings=prepared.timings,
            expected_bytes=weights.size,
        )
    return sam
