"""`classifier.blocks`: a CNN/DNN written as a list of layer blocks, trained from scratch, in four modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from commons.errors import InvalidInput
from flows.kinds.classifier import evaluate, export, infer, train
from flows.kinds.classifier.params import (
    check_dataset_labels,
    classifier_memory,
    exports_int8,
    needs_config,
    refuse_int8,
)
from flows.kinds.spec import Inputs, KindSpec, ModeSpec, ParamsRequest, always
from registry.vocabulary import Mode
from resources.classifier import config as schema
from resources.classifier.blocks.spec import BlocksConfig, check_dataset_classes, parse_blocks_config


def _config(request: ParamsRequest) -> BlocksConfig:
    """The version's config; an INT8 version is refused for train and export."""
    parsed = parse_blocks_config(needs_config(request))
    refuse_int8(parsed, mode=request.mode)
    return parsed


def _predict_params(request: ParamsRequest) -> BaseModel:
    _config(request)
    return schema.parse_predict_params(request.raw)


def _train_params(request: ParamsRequest) -> BaseModel:
    """Like a ResNet's, except that a model from blocks has no head to replace: a train task's dataset must
    have as many classes as the last block has outputs (the class names are the dataset's)."""
    parsed = _config(request)
    params = schema.parse_train_params(request.raw)
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
    if request.dataset is not None:
        check_dataset_classes(parsed, num_classes=len(request.dataset.classes), dataset_name=request.dataset.name)
    return params


def _evaluate_params(request: ParamsRequest) -> BaseModel:
    parsed = _config(request)
    check_dataset_labels(request, classes=list(parsed.classes))
    return schema.parse_eval_params(request.raw)


def _export_params(request: ParamsRequest) -> BaseModel:
    parsed = _config(request)
    check_dataset_labels(request, classes=list(parsed.classes))
    return schema.parse_export_params(request.raw, config=parsed)


def _check_weights(path: Path, config: BaseModel) -> None:
    from resources.classifier.blocks.model import check_blocks_weights_file

    check_blocks_weights_file(path, config=config)  # type: ignore[arg-type]  # parse_config made it BlocksConfig


def _blocks_memory(config: BlocksConfig, *, training: bool, batch: int) -> Any:
    from resources.cost import blocks_memory

    return blocks_memory(config, training=training, batch=batch)


def _warm_up() -> None:
    import torch  # noqa: F401

    import resources.classifier.blocks.model  # noqa: F401


KIND = KindSpec(
    name="classifier.blocks",
    parse_config=parse_blocks_config,
    check_weights=_check_weights,
    memory=classifier_memory(parse_blocks_config, _blocks_memory),
    warm_up=_warm_up,
    modes={
        Mode.INFER: ModeSpec(infer.infer_classifier, _predict_params, Inputs.UPLOADS, warm=True),
        Mode.TRAIN: ModeSpec(train.train_classifier, _train_params, Inputs.DATASET, publishes=always, stores=True),
        Mode.EVALUATE: ModeSpec(evaluate.evaluate_classifier, _evaluate_params, Inputs.DATASET),
        Mode.EXPORT: ModeSpec(
            export.export_classifier, _export_params, Inputs.DATASET, publishes=exports_int8, stores=True
        ),
    },
)
