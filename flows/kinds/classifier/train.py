"""The train step for classifiers: transfer learning (`classifier.resnet`) or training a model from blocks
(`classifier.blocks`, the dataset's class names on its outputs) on the task's dataset snapshot.

Writes under `work_dir/outputs`: `model.safetensors`, `config.json` (the trained version's config),
`metrics.json` (per-epoch figures, the published epoch's figures, the split), `split.json` (which photos
trained and which validated, by sha256 and by item id) and `curves.png` (the best epoch marked). Every
output is a function of the version, the dataset snapshot, the parameters and the seed only (timings go to
the manifest), so a CPU re-run reproduces each file bit for bit.

The weights published are those of the best epoch by validation accuracy (`resources.classifier.train`);
its figures are the version's reported metrics, and the task's result names it (`best_epoch`) with any
`warnings` (a validation split under `MIN_VAL_PHOTOS` photos).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commons.errors import InvalidInput
from flows.kinds.classifier.common import (
    TRAINED_WEIGHTS,
    load_float_model,
    load_items,
    parse_config,
    save_version,
)
from flows.steps.prepare import DatasetInput, Prepared
from flows.steps.records import VersionProduct
from flows.steps.reporting import Reporter, TaskCancelled

if TYPE_CHECKING:
    from torch import nn
    from torchvision.models import ResNet

    from flows.kinds.classifier.common import AnyClassifierConfig
    from resources.classifier.config import TrainParams
    from resources.classifier.data import Item
    from resources.classifier.train import TrainResult

METRICS_SCHEMA = "model-commons/train-metrics/1"
MIN_VAL_PHOTOS = 20  # fewer validation photos than this: the task's result warns that accuracy is noisy


def train_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.classifier.config import parse_train_params
    from resources.classifier.data import split_indices

    dataset = prepared.dataset
    if dataset is None:
        raise InvalidInput("a train task needs a dataset", field="dataset")
    config = parse_config(prepared)
    params = parse_train_params(prepared.params)
    classes = dataset.classes
    model = load_float_model(prepared, config)
    head_replaced = _fit_head(model, config, dataset=dataset, params=params)
    trained_config = config.model_copy(update={"classes": classes, "checkpoint": TRAINED_WEIGHTS, "quantization": None})

    with prepared.timed("load_images"):
        items = load_items(dataset, classes=classes, input_size=config.input_size, max_pixels=max_image_pixels)
        labels = [label for _, label in items]
        train_at, val_at = split_indices(labels, val_fraction=params.val_fraction, seed=params.seed)
    report.progress(0.0)
    result = _train(
        prepared, model, trained_config, items=items, split=(train_at, val_at), params=params, report=report
    )

    out = prepared.outputs
    out.mkdir(parents=True, exist_ok=True)
    config_dict = save_version(model, trained_config, out=out, weights_name=TRAINED_WEIGHTS)
    split = {
        "val_fraction": params.val_fraction,
        "seed": params.seed,
        "train": len(train_at),
        "val": len(val_at),
        "unlabelled_skipped": dataset.unlabelled,
    }
    warnings = split_warnings(len(val_at))
    figures = _write_metrics(prepared, result, out=out, split=split, head_replaced=head_replaced, warnings=warnings)
    (out / "split.json").write_text(json.dumps(split_record(dataset, split=split, train_at=train_at, val_at=val_at)))
    _write_curves(result, out=out)
    prepared.product = _product(
        dataset,
        out / TRAINED_WEIGHTS,
        config_dict,
        figures=figures,
        split=split,
        params=params,
        summary={"best_epoch": result.best_epoch, "best_val_accuracy": result.best_val_accuracy, "warnings": warnings},
    )
    report.progress(1.0)
    return [out / TRAINED_WEIGHTS, out / "config.json", out / "metrics.json", out / "split.json", out / "curves.png"]


def _resnet(model: object) -> ResNet:
    from torchvision.models import ResNet

    if not isinstance(model, ResNet):
        raise InvalidInput("a ResNet version built something else; re-upload the version", field="version")
    return model


def _fit_head(model: nn.Module, config: AnyClassifierConfig, *, dataset: DatasetInput, params: TrainParams) -> bool:
    """Fit the model's outputs to the dataset's classes; whether a new final layer was made.

    From blocks: no head to replace, the dataset's names must fit. Transfer learning (ResNet): a new final
    layer, one output per class, when the classes differ."""
    from resources.classifier.blocks.spec import check_dataset_classes
    from resources.classifier.config import ClassifierConfig
    from resources.classifier.resnet.model import replace_head

    classes = dataset.classes
    if not isinstance(config, ClassifierConfig):
        check_dataset_classes(config, num_classes=len(classes), dataset_name=dataset.name)
    elif list(config.classes) != classes:
        replace_head(_resnet(model), num_classes=len(classes), seed=params.seed)
        return True
    return False


def _train(
    prepared: Prepared,
    model: nn.Module,
    config: AnyClassifierConfig,
    *,
    items: list[Item],
    split: tuple[list[int], list[int]],
    params: TrainParams,
    report: Reporter,
) -> TrainResult:
    """Train in place, reporting every epoch; raises TaskCancelled when the task was cancelled meanwhile.
    Records `train_s` and `epoch_s`."""
    from resources.classifier.train import train

    def on_epoch(record: dict[str, Any]) -> None:
        report.epoch(record, fraction=record["epoch"] / params.epochs)

    train_at, val_at = split
    result = train(
        model,
        train_items=[items[i] for i in train_at],
        val_items=[items[i] for i in val_at],
        params=params,
        config=config,
        device=prepared.device,
        on_epoch=on_epoch,
        should_stop=report.should_stop,
    )
    if result.cancelled:
        raise TaskCancelled(f"task {prepared.task_id} was cancelled during epoch {result.epochs_run + 1}")
    prepared.timings["train_s"] = round(result.seconds, 4)
    prepared.timings["epoch_s"] = [round(record["seconds"], 4) for record in result.history]
    return result


def split_warnings(val_photos: int) -> list[str]:
    """What the task's result warns about the validation split: none from `MIN_VAL_PHOTOS` photos up."""
    if val_photos == 0:
        return [
            "there is no validation split, so the last epoch is published and its accuracy is not measured — add "
            "photos or raise val_fraction"
        ]
    if val_photos < MIN_VAL_PHOTOS:
        photos = "photo" if val_photos == 1 else "photos"
        return [
            f"the validation split has {val_photos} {photos}; accuracy on so few is noisy — add photos or raise "
            "val_fraction"
        ]
    return []


def _write_metrics(
    prepared: Prepared,
    result: TrainResult,
    *,
    out: Path,
    split: dict[str, Any],
    head_replaced: bool,
    warnings: list[str],
) -> dict[str, Any]:
    """Write `metrics.json` (every epoch, the published epoch's figures, the split); returns those figures:
    the best epoch's by validation accuracy, the last epoch's without validation."""
    dataset = prepared.dataset
    if dataset is None:  # checked by the caller; keeps the type checker informed
        raise InvalidInput("a train task needs a dataset", field="dataset")
    epochs = [{k: v for k, v in record.items() if k != "seconds"} for record in result.history]
    published = epochs[-1] if result.best_epoch is None else epochs[result.best_epoch - 1]
    figures = {name: published[name] for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")}
    figures = {name: value for name, value in figures.items() if value is not None}
    figures["epochs_run"] = result.epochs_run
    metrics = {
        "schema": METRICS_SCHEMA,
        "dataset": dataset.describe(),
        "classes": dataset.classes,
        "parent": prepared.reference(),
        "head_replaced": head_replaced,
        "split": split,
        "epochs": epochs,
        "figures": figures,
        "best_epoch": result.best_epoch,
        "best_val_accuracy": result.best_val_accuracy,
        "stopped_early": result.stopped_early,
        "stop_reason": result.stop_reason,
        "warnings": warnings,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return figures


def split_record(
    dataset: DatasetInput, *, split: dict[str, Any], train_at: list[int], val_at: list[int]
) -> dict[str, Any]:
    """What `split.json` holds: the split's figures and which photos trained and which validated, by sha256
    (`train_items`, `val_items`: what Evaluate matches its predictions against, whatever became of the
    dataset's rows since) and by dataset item id (`train_item_ids`, `val_item_ids`)."""
    items = dataset.items
    return {
        **split,
        "train_items": [items[i].file.sha256 for i in train_at],
        "val_items": [items[i].file.sha256 for i in val_at],
        "train_item_ids": [items[i].item_id for i in train_at],
        "val_item_ids": [items[i].item_id for i in val_at],
    }


def _write_curves(result: TrainResult, *, out: Path) -> None:
    from resources.classifier.tools.plots import curves_png

    (out / "curves.png").write_bytes(curves_png(result.history, best_epoch=result.best_epoch))


def _product(
    dataset: DatasetInput,
    weights: Path,
    config: dict[str, Any],
    *,
    figures: dict[str, Any],
    split: dict[str, Any],
    params: TrainParams,
    summary: dict[str, Any],
) -> VersionProduct:
    """What the publish step turns into the trained version (its figures: the published epoch's) and adds to
    the task's result (`summary`)."""
    return VersionProduct(
        weights=weights,
        config=config,
        reported_metrics={
            **{name: value for name, value in figures.items() if name != "epochs_run"},
            "best_epoch": summary["best_epoch"],
            "measured_on": "validation split",
            "dataset_digest": dataset.digest,
            "split": {"val_fraction": params.val_fraction, "seed": params.seed},
        },
        dataset=dataset.describe(),
        split=split,
        publish_as=params.publish_as,
        summary=summary,
    )
