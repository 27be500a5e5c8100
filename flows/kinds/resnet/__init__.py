"""`classifier.resnet`: a torchvision ResNet (18, 34 or 50) with its own classes, in six modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from flows.kinds.classifier import edit, evaluate, export, infer, inspect, train
from flows.kinds.classifier.params import (
    classifier_memory,
    evaluate_params,
    export_params,
    exports_int8,
    needs_config,
    predict_params,
    refuse_int8,
)
from flows.kinds.spec import Inputs, KindSpec, ModeSpec, ParamsRequest, always
from registry.vocabulary import Mode
from resources.classifier import config as schema


def _parse(raw: Any) -> schema.ClassifierConfig:
    return schema.parse_classifier_config(raw)


def _train_params(request: ParamsRequest) -> BaseModel:
    refuse_int8(_parse(request.config) if request.config is not None else None, mode=request.mode)
    return schema.parse_train_params(request.raw)


def _inspect_params(request: ParamsRequest) -> BaseModel:
    return schema.parse_inspect_params(request.raw)


def _edit_params(request: ParamsRequest) -> BaseModel:
    from resources.classifier.tools.edit_spec import parse_edit_params

    parsed = _parse(needs_config(request))
    return parse_edit_params(request.raw, arch=parsed.arch, num_classes=len(parsed.classes))


def _check_weights(path: Path, config: BaseModel) -> None:
    from resources.classifier.resnet.model import check_weights_file

    check_weights_file(path, config=config)  # type: ignore[arg-type]  # parse_config made it a ClassifierConfig


def _resnet_memory(config: schema.ClassifierConfig, *, training: bool, batch: int) -> Any:
    from resources.cost import resnet_memory

    return resnet_memory(config, training=training, batch=batch)


def _warm_up() -> None:
    import torch  # noqa: F401

    import resources.classifier.resnet.model  # noqa: F401


KIND = KindSpec(
    name="classifier.resnet",
    parse_config=schema.parse_classifier_config,
    check_weights=_check_weights,
    memory=classifier_memory(_parse, _resnet_memory),
    warm_up=_warm_up,
    modes={
        Mode.INFER: ModeSpec(infer.infer_classifier, predict_params, Inputs.UPLOADS, warm=True),
        Mode.TRAIN: ModeSpec(train.train_classifier, _train_params, Inputs.DATASET, publishes=always, stores=True),
        Mode.EVALUATE: ModeSpec(evaluate.evaluate_classifier, evaluate_params(_parse), Inputs.DATASET),
        Mode.EXPORT: ModeSpec(
            export.export_classifier, export_params(_parse), Inputs.DATASET, publishes=exports_int8, stores=True
        ),
        Mode.INSPECT: ModeSpec(inspect.inspect_classifier, _inspect_params, Inputs.UPLOADS, max_inputs=1),
        Mode.EDIT: ModeSpec(edit.edit_classifier, _edit_params, Inputs.NONE, publishes=always, stores=True),
    },
)
