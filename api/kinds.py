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
    if kind == "segmenter.sam" and mode == "infer":
        from resources.sam.config import parse_infer_params

        params = parse_infer_params(raw)
        if params.mode == "prompt" and params.prompt is not None:
            for upload in inputs:
                params.prompt.check_inside(upload.width, upload.height)
        return params.model_dump(mode="json")
    if kind == "classifier.resnet" and mode == "infer":
        from resources.classifier.config import parse_predict_params

        return parse_predict_params(raw).model_dump(mode="json")
    if kind == "classifier.resnet" and mode == "train":
        from resources.classifier.config import parse_train_params

        return parse_train_params(raw).model_dump(mode="json")
    if kind == "classifier.resnet" and mode == "evaluate":
        from resources.classifier.config import parse_classifier_config, parse_eval_params

        evaluate_params = parse_eval_params(raw).model_dump(mode="json")
        if config is not None and dataset is not None:
            classes = parse_classifier_config(config).classes
            unknown = sorted({i["label"] for i in dataset["items"] if i["label"] is not None} - set(classes))
            if unknown:
                raise InvalidInput(
                    f"dataset {dataset['name']!r} labels images as {', '.join(unknown)}, which the model does not "
                    f"predict (its classes: {', '.join(classes)}); evaluate on a dataset with the model's classes",
                    field="dataset",
                )
        return evaluate_params
    raise InvalidInput(f"kind {kind!r} cannot run mode {mode!r} yet", field="mode")
