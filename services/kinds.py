"""Per-kind validation of configs, task parameters and weights files, at upload and submit time."""

from __future__ import annotations

from typing import Any

from commons.errors import InvalidInput
from commons.settings import Settings
from registry.models import Upload
from registry.versions import StagedFile
from resources.cost import MemoryEstimate, check_memory

# Modes whose work runs batches of photos through the model, and so have an activation-memory estimate.
INFERENCE_MODES: tuple[str, ...] = ("infer", "evaluate", "export", "inspect")


def validate_config(kind: str, raw: Any) -> dict[str, Any]:
    """The normalised config (defaults filled in) or InvalidInput naming the field."""
    if not isinstance(raw, dict):
        raise InvalidInput("config must be a JSON object", field="config")
    if kind == "segmenter.sam":
        from resources.sam.config import parse_sam_config

        return parse_sam_config(raw).model_dump(mode="json", exclude_none=True)
    if kind == "classifier.resnet":
        from resources.classifier.config import parse_classifier_config

        return parse_classifier_config(raw).model_dump(mode="json", exclude_none=True)
    if kind == "classifier.blocks":
        from resources.classifier.blocks.spec import parse_blocks_config

        return parse_blocks_config(raw).model_dump(mode="json", exclude_none=True)
    raise InvalidInput(f"kind {kind!r} has no config schema", field="kind")


def check_weights(kind: str, config: dict[str, Any], files: list[StagedFile]) -> None:
    """The weights file the config names (present: see `check_files`) loads safely and fits the config."""
    checkpoint = config.get("checkpoint")
    match = next((f for f in files if f.name == checkpoint), None)
    if match is None:
        return
    if kind == "segmenter.sam":
        from resources.sam.config import parse_sam_config
        from resources.sam.model import check_weights_file

        check_weights_file(match.path, config=parse_sam_config(config))
    elif kind == "classifier.resnet":
        from resources.classifier.config import parse_classifier_config
        from resources.classifier.resnet.model import check_weights_file as check_classifier_weights

        check_classifier_weights(match.path, config=parse_classifier_config(config))
    elif kind == "classifier.blocks":
        from resources.classifier.blocks.model import check_blocks_weights_file
        from resources.classifier.blocks.spec import parse_blocks_config

        check_blocks_weights_file(match.path, config=parse_blocks_config(config))


KIND_MODES: dict[str, tuple[str, ...]] = {
    "segmenter.sam": ("infer",),
    "classifier.resnet": ("infer", "train", "evaluate", "export", "inspect", "edit"),
    "classifier.blocks": ("infer", "train", "evaluate", "export"),
}


def check_mode(kind: str, mode: str) -> None:
    """Refuse a mode the kind has no runner for (e.g. export of a segmenter), naming the modes it has."""
    modes = KIND_MODES.get(kind, ())
    if mode not in modes:
        raise InvalidInput(
            f"a {kind} version cannot run {mode!r} tasks; its modes are {', '.join(modes) or 'none'}", field="mode"
        )


def validate_params(
    kind: str,
    mode: str,
    raw: dict[str, Any],
    inputs: list[Upload],
    *,
    config: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Normalised task parameters (library defaults filled in), checked against every input image, or
    against the version's config and the dataset snapshot (`registry.dataset_snapshots`)."""
    check_mode(kind, mode)
    if kind == "segmenter.sam":
        from resources.sam.config import parse_infer_params

        params = parse_infer_params(raw)
        if params.mode == "prompt" and params.prompt is not None:
            for upload in inputs:
                params.prompt.check_inside(upload.width, upload.height)
        return params.model_dump(mode="json")
    if kind == "classifier.blocks":
        return _blocks_params(mode, raw, config=config, dataset=dataset)
    return _classifier_params(mode, raw, config=config, dataset=dataset)


def _blocks_params(
    mode: str, raw: dict[str, Any], *, config: dict[str, Any] | None, dataset: dict[str, Any] | None
) -> dict[str, Any]:
    """Like a ResNet's, except that a model from blocks has no head to replace: a train task's dataset must
    have as many classes as the last block has outputs (the class names are the dataset's)."""
    from resources.classifier import config as schema
    from resources.classifier.blocks.spec import check_dataset_classes, parse_blocks_config

    if config is None:
        raise InvalidInput(f"a {mode} task needs the version's config", field="version")
    parsed = parse_blocks_config(config)
    _refuse_int8(parsed.quantization is not None, mode=mode)
    if mode == "infer":
        return schema.parse_predict_params(raw).model_dump(mode="json")
    if mode == "train":
        params = schema.parse_train_params(raw)
        if params.freeze_backbone:
            raise InvalidInput(
                "params.freeze_backbone: a model built from blocks trains from scratch and has no backbone to freeze; "
                "leave it out",
                field="params.freeze_backbone",
            )
        if parsed.has_batch_norm and params.batch_size == 1:
            raise InvalidInput(
                "params.batch_size: 1 cannot train a model with BatchNorm blocks (batch norm needs at least 2 "
                "values per channel); use batch_size ≥ 2",
                field="params.batch_size",
            )
        if dataset is not None:
            check_dataset_classes(parsed, num_classes=len(dataset["classes"]), dataset_name=dataset["name"])
        return params.model_dump(mode="json")
    if dataset is not None:
        _check_dataset_classes(dataset, classes=list(parsed.classes), mode=mode)
    if mode == "export":
        return schema.parse_export_params(raw, config=parsed).model_dump(mode="json")
    return schema.parse_eval_params(raw).model_dump(mode="json")


def _classifier_params(
    mode: str, raw: dict[str, Any], *, config: dict[str, Any] | None, dataset: dict[str, Any] | None
) -> dict[str, Any]:
    from resources.classifier import config as schema
    from resources.classifier.tools.edit_spec import parse_edit_params

    parsed = schema.parse_classifier_config(config) if config is not None else None
    if parsed is not None:
        _refuse_int8(parsed.quantization is not None, mode=mode)
    if mode == "infer":
        return schema.parse_predict_params(raw).model_dump(mode="json")
    if mode == "train":
        return schema.parse_train_params(raw).model_dump(mode="json")
    if mode == "inspect":
        return schema.parse_inspect_params(raw).model_dump(mode="json")
    if parsed is None:
        raise InvalidInput(f"a {mode} task needs the version's config", field="version")
    if mode == "edit":
        return parse_edit_params(raw, arch=parsed.arch, num_classes=len(parsed.classes)).model_dump(mode="json")
    if dataset is not None:
        _check_dataset_classes(dataset, classes=list(parsed.classes), mode=mode)
    if mode == "export":
        return schema.parse_export_params(raw, config=parsed).model_dump(mode="json")
    return schema.parse_eval_params(raw).model_dump(mode="json")


def _refuse_int8(quantized: bool, *, mode: str) -> None:
    """An INT8 version (made by an export task) can be evaluated and used, not trained or exported again."""
    if quantized and mode in ("train", "export"):
        raise InvalidInput(
            f"this version is INT8 (made by an export task); {mode} its float parent instead (see its lineage)",
            field="version",
        )


def _check_dataset_classes(dataset: dict[str, Any], *, classes: list[str], mode: str) -> None:
    unknown = sorted({i["label"] for i in dataset["items"] if i["label"] is not None} - set(classes))
    if unknown:
        raise InvalidInput(
            f"dataset {dataset['name']!r} labels images as {', '.join(unknown)}, which the model does not "
            f"predict (its classes: {', '.join(classes)}); {mode} on a dataset with the model's classes",
            field="dataset",
        )


def check_config_cost(kind: str, config: dict[str, Any], *, settings: Settings) -> None:
    """At version upload: one photo through the model (inference, batch 1) must fit the largest lane's budget
    (the batch lane's); a model that cannot run even there is refused naming the block or field."""
    estimate = _memory(kind, "infer", config, params=None, batch=1, photo=None)
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
        check_config_cost("classifier.blocks", config, settings=settings)
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
    dataset: dict[str, Any] | None,
    settings: Settings,
) -> MemoryEstimate | None:
    """The task's estimated peak activation memory (None where there is none to estimate: edit, augment), for
    `Dispatcher.choose_lane` to check against the lane's budget. SAM's automatic masks are refused here when
    their work on a photo is over COMMONS_SAM_MAX_WORK_PER_PHOTO.

    The batch is what the worker will actually form: the task's `batch_size`, or fewer when it has fewer photos.
    """
    if config is None or (mode not in INFERENCE_MODES and mode != "train"):
        return None
    if kind == "segmenter.sam":
        from resources.sam.config import parse_infer_params
        from resources.sam.cost import check_sam_work

        parsed = parse_infer_params(params)
        photos = [(upload.name, upload.width, upload.height) for upload in inputs]
        if parsed.mode == "auto":
            check_sam_work(parsed.auto, photos=photos, budget=settings.sam_max_work_per_photo)
        largest = max(inputs, key=lambda upload: upload.width * upload.height, default=None)
        photo = (largest.width, largest.height) if largest is not None else None
        return _memory(kind, mode, config, params=params, batch=1, photo=photo)
    count = len(inputs) if dataset is None else len(dataset["items"])
    batch = 1 if mode == "inspect" else min(int(params.get("batch_size", 1)), max(1, count))
    return _memory(kind, mode, config, params=params, batch=batch, photo=None)


def _memory(
    kind: str,
    mode: str,
    config: dict[str, Any],
    *,
    params: dict[str, Any] | None,
    batch: int,
    photo: tuple[int, int] | None,
) -> MemoryEstimate | None:
    training = mode == "train"
    if kind == "classifier.blocks":
        from resources.classifier.blocks.spec import parse_blocks_config
        from resources.cost import blocks_memory

        return blocks_memory(parse_blocks_config(config), training=training, batch=batch)
    if kind == "classifier.resnet":
        from resources.classifier.config import parse_classifier_config
        from resources.cost import resnet_memory

        return resnet_memory(parse_classifier_config(config), training=training, batch=batch)
    if kind == "segmenter.sam":
        from resources.sam.config import parse_infer_params, parse_sam_config
        from resources.sam.cost import encoder_memory, sam_memory

        sam_config = parse_sam_config(config)
        if params is None or photo is None:
            return encoder_memory(sam_config)
        return sam_memory(sam_config, parse_infer_params(params), width=photo[0], height=photo[1])
    return None
