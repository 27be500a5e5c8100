"""What the API asks of a kind at upload and submit time, answered by its spec (`flows/kinds/`): the config, the
weights file, the mode and its parameters, and the activation memory a task will need."""

from __future__ import annotations

from typing import Any

from commons.errors import InvalidInput
from commons.settings import Settings
from flows.kinds import KINDS
from flows.kinds.blocks import KIND as BLOCKS
from flows.kinds.spec import MemoryRequest, ParamsRequest
from registry.models import Upload
from registry.snapshot_schema import DatasetSnapshot
from registry.versions import StagedFile
from registry.vocabulary import Mode
from resources.cost import MemoryEstimate, check_memory


def validate_config(kind: str, raw: Any) -> dict[str, Any]:
    """The normalised config (defaults filled in) or InvalidInput naming the field."""
    return KINDS.get(kind).config(raw)


def check_weights(kind: str, config: dict[str, Any], files: list[StagedFile]) -> None:
    """The weights file the config names (present: see `check_files`) loads safely and fits the config."""
    spec = KINDS.get(kind)
    match = next((f for f in files if f.name == config.get("checkpoint")), None)
    if match is None or spec.check_weights is None or spec.parse_config is None:
        return
    spec.check_weights(match.path, spec.parse_config(config))


def check_mode(kind: str, mode: str) -> None:
    """Refuse a mode the kind has no runner for (e.g. export of a segmenter), naming the modes it has."""
    KINDS.mode(kind, mode)


def validate_params(
    kind: str,
    mode: str,
    raw: dict[str, Any],
    inputs: list[Upload],
    *,
    config: dict[str, Any] | None = None,
    dataset: DatasetSnapshot | None = None,
) -> dict[str, Any]:
    """Normalised task parameters (library defaults filled in), checked against every input image, or
    against the version's config and the dataset snapshot (`registry.dataset_snapshots`)."""
    spec = KINDS.mode(kind, mode)
    request = ParamsRequest(mode=Mode(mode), raw=raw, inputs=inputs, config=config, dataset=dataset)
    return spec.params(request).model_dump(mode="json")


def check_config_cost(kind: str, config: dict[str, Any], *, settings: Settings) -> None:
    """At version upload: one photo through the model (inference, batch 1) must fit the largest lane's budget
    (the batch lane's); a model that cannot run even there is refused naming the block or field."""
    estimate = _memory(kind, Mode.INFER, config, params=None, inputs=[], dataset=None, settings=settings)
    if estimate is not None:
        if settings.warm_lane_activation_bytes > settings.batch_lane_activation_bytes:
            budget, lane = settings.warm_lane_activation_bytes, "warm"
        else:
            budget, lane = settings.batch_lane_activation_bytes, "batch"
        check_memory(estimate, budget=budget, setting=f"COMMONS_{lane.upper()}_LANE_ACTIVATION_BYTES", lane=lane)


def blocks_memory_report(config: dict[str, Any], *, settings: Settings) -> dict[str, Any]:
    """For the Build page (POST /blocks/validate, a valid config): activation memory per photo to predict and
    to train, which lanes it fits, and the refusal an upload would get (None if it would be accepted)."""
    from resources.classifier.blocks.spec import parse_blocks_config
    from resources.cost import blocks_memory

    parsed = parse_blocks_config(config)
    infer = blocks_memory(parsed, training=False, batch=1)
    train = blocks_memory(parsed, training=True, batch=1)
    refusal = None
    try:
        check_config_cost(BLOCKS.name, config, settings=settings)
    except InvalidInput as error:
        refusal = {"message": error.message, "field": error.field}
    return {
        "infer_bytes_per_photo": infer.total,
        "train_bytes_per_photo": train.total,
        "largest": infer.culprit,
        "warm_lane": infer.total <= settings.warm_lane_activation_bytes,
        "batch_lane": infer.total <= settings.batch_lane_activation_bytes,
        "refused": refusal,
    }


def task_memory(
    kind: str,
    mode: str,
    params: dict[str, Any],
    inputs: list[Upload],
    *,
    config: dict[str, Any] | None,
    dataset: DatasetSnapshot | None,
    settings: Settings,
) -> MemoryEstimate | None:
    """The task's estimated peak activation memory (None where the kind has none to estimate: edit, augment),
    for `Dispatcher.choose_lane` to check against the lane's budget; the kind may refuse a task outright here
    (SAM's automatic masks over COMMONS_SAM_MAX_WORK_PER_PHOTO)."""
    if config is None:
        return None
    return _memory(kind, Mode(mode), config, params=params, inputs=inputs, dataset=dataset, settings=settings)


def _memory(
    kind: str,
    mode: Mode,
    config: dict[str, Any],
    *,
    params: dict[str, Any] | None,
    inputs: list[Upload],
    dataset: DatasetSnapshot | None,
    settings: Settings,
) -> MemoryEstimate | None:
    estimate = KINDS.get(kind).memory
    if estimate is None:
        return None
    return estimate(
        MemoryRequest(mode=mode, config=config, params=params, inputs=inputs, dataset=dataset, settings=settings)
    )
