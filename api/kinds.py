"""Per-kind validation of configs, task parameters and weights files, at upload and submit time."""

from __future__ import annotations

from typing import Any

from commons.errors import InvalidInput
from registry.models import Upload
from registry.versions import StagedFile


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
        from resources.classifier.blocks_spec import parse_blocks_config

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
        from resources.classifier.model import check_weights_file as check_classifier_weights

        check_classifier_weights(match.path, config=parse_classifier_config(config))
    elif kind == "classifier.blocks":
        from resources.classifier.blocks_model import check_blocks_weights_file
        from resources.classifier.blocks_spec import parse_blocks_config

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
    from resources.classifier.blocks_spec import check_dataset_classes, parse_blocks_config

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
    from resources.classifier.edit_spec import parse_edit_params

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
