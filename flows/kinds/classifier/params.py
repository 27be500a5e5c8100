"""The parameters of each classifier mode, checked against the version's config and the dataset snapshot, and
a classifier's activation-memory estimate. Shared by `classifier.resnet` and `classifier.blocks`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from commons.errors import InvalidInput
from flows.kinds.spec import MemoryRequest, ParamsRequest
from registry.vocabulary import Mode
from resources.classifier import config as schema

if TYPE_CHECKING:
    from resources.classifier.blocks.spec import BlocksConfig
    from resources.classifier.config import ClassifierConfig
    from resources.cost import MemoryEstimate

    AnyClassifierConfig = ClassifierConfig | BlocksConfig


def needs_config(request: ParamsRequest) -> dict[str, Any]:
    if request.config is None:
        raise InvalidInput(f"a {request.mode} task needs the version's config", field="version")
    return request.config


def refuse_int8(config: AnyClassifierConfig | None, *, mode: str) -> None:
    """An INT8 version (made by an export task) can be evaluated and used, not trained or exported again."""
    if config is not None and config.quantization is not None and mode in (Mode.TRAIN, Mode.EXPORT):
        raise InvalidInput(
            f"this version is INT8 (made by an export task); {mode} its float parent instead (see its lineage)",
            field="version",
        )


def check_dataset_labels(request: ParamsRequest, *, classes: list[str]) -> None:
    """Every label of the dataset is a class the model predicts (evaluate, export)."""
    dataset = request.dataset
    if dataset is None:
        return
    unknown = sorted({item.label for item in dataset.items if item.label is not None} - set(classes))
    if unknown:
        raise InvalidInput(
            f"dataset {dataset.name!r} labels images as {', '.join(unknown)}, which the model does not "
            f"predict (its classes: {', '.join(classes)}); {request.mode} on a dataset with the model's classes",
            field="dataset",
        )


def predict_params(request: ParamsRequest) -> BaseModel:
    return schema.parse_predict_params(request.raw)


def evaluate_params(parse: Callable[[Any], AnyClassifierConfig]) -> Callable[[ParamsRequest], BaseModel]:
    """evaluate: the dataset's labels are the model's classes."""

    def read(request: ParamsRequest) -> BaseModel:
        parsed = parse(needs_config(request))
        check_dataset_labels(request, classes=list(parsed.classes))
        return schema.parse_eval_params(request.raw)

    return read


def export_params(parse: Callable[[Any], AnyClassifierConfig]) -> Callable[[ParamsRequest], BaseModel]:
    """export: a float version whose classes the dataset's labels are; the units it keeps in float exist."""

    def read(request: ParamsRequest) -> BaseModel:
        parsed = parse(needs_config(request))
        refuse_int8(parsed, mode=request.mode)
        check_dataset_labels(request, classes=list(parsed.classes))
        return schema.parse_export_params(request.raw, config=parsed)

    return read


def exports_int8(params: dict[str, Any]) -> bool:
    """An export publishes a version only with the "int8" format (its INT8 version)."""
    return "int8" in (params.get("formats") or [])


def classifier_memory(
    parse: Callable[[Any], AnyClassifierConfig], estimate: Callable[..., MemoryEstimate]
) -> Callable[[MemoryRequest], MemoryEstimate | None]:
    """A classifier's estimate: the batch the worker will form (the task's `batch_size`, or fewer when it has
    fewer photos; one for inspect and for the upload check), training or not."""

    def memory(request: MemoryRequest) -> MemoryEstimate | None:
        if request.mode in (Mode.EDIT, Mode.AUGMENT):
            return None
        batch = 1
        if request.params is not None and request.mode != Mode.INSPECT:
            count = len(request.inputs) if request.dataset is None else len(request.dataset.items)
            batch = min(int(request.params.get("batch_size", 1)), max(1, count))
        return estimate(parse(request.config), training=request.mode == Mode.TRAIN, batch=batch)

    return memory
