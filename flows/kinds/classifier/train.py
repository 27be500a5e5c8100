"""The train step for classifiers: transfer learning (`classifier.resnet`) or training a model from blocks
(`classifier.blocks`, the dataset's class names on its outputs) on the task's dataset snapshot.

Writes under `work_dir/outputs`: `model.safetensors`, `config.json` (the trained version's config),
`metrics.json` (per-epoch figures, final figures, the split), `split.json` (which photos trained and
which validated, by sha256) and `curves.png`. Every output is a function of the version, the dataset
snapshot, the parameters and the seed only (timings go to the manifest), so a CPU re-run reproduces
each file bit for bit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commons.errors import InvalidInput
from flows.kinds.classifier.common import load_float_model, load_items, parse_config
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter, TaskCancelled

if TYPE_CHECKING:
    from torchvision.models import ResNet

WEIGHTS_NAME = "model.safetensors"


def _resnet(model: object) -> ResNet:
    from torchvision.models import ResNet

    if not isinstance(model, ResNet):
        raise InvalidInput("a ResNet version built something else; re-upload the version", field="version")
    return model


METRICS_SCHEMA = "model-commons/train-metrics/1"


def train_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.classifier.blocks.spec import check_dataset_classes
    from resources.classifier.config import ClassifierConfig, parse_train_params
    from resources.classifier.data import split_indices
    from resources.classifier.resnet.model import replace_head, save_weights
    from resources.classifier.tools.plots import curves_png
    from resources.classifier.train import train

    dataset = prepared.dataset
    if dataset is None:
        raise InvalidInput("a train task needs a dataset", field="dataset")
    config = parse_config(prepared)
    params = parse_train_params(prepared.params)
    classes = dataset.classes
    model = load_float_model(prepared, config)
    head_replaced = False
    if not isinstance(config, ClassifierConfig):  # from blocks: no head to replace, the dataset's names
        check_dataset_classes(config, num_classes=len(classes), dataset_name=dataset.name)
    elif list(config.classes) != classes:  # transfer learning: a new final layer, one output per class
        replace_head(_resnet(model), num_classes=len(classes), seed=params.seed)
        head_replaced = True
    trained_config = config.model_copy(update={"classes": classes, "checkpoint": WEIGHTS_NAME, "quantization": None})

    started = time.perf_counter()
    items = load_items(dataset, classes=classes, input_size=config.input_size, max_pixels=max_image_pixels)
    train_at, val_at = split_indices([label for _, label in items], val_fraction=params.val_fraction, seed=params.seed)
    prepared.timings["load_images_s"] = round(time.perf_counter() - started, 4)
    report.progress(0.0)

    def on_epoch(record: dict[str, Any]) -> None:
        report.epoch(record, fraction=record["epoch"] / params.epochs)

    result = train(
        model,
        train_items=[items[i] for i in train_at],
        val_items=[items[i] for i in val_at],
        params=params,
        config=trained_config,
        device=prepared.device,
        on_epoch=on_epoch,
        should_stop=report.should_stop,
    )
    if result.cancelled:
        raise TaskCancelled(f"task {prepared.task_id} was cancelled during epoch {result.epochs_run + 1}")
    prepared.timings["train_s"] = round(result.seconds, 4)
    prepared.timings["epoch_s"] = [round(record["seconds"], 4) for record in result.history]

    out = prepared.work_dir / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    weights = out / WEIGHTS_NAME
    # No metadata: safetensors writes a multi-key metadata map in a random order (config.json says it all).
    save_weights(model, path=weights)
    config_dict = trained_config.model_dump(mode="json", exclude_none=True)
    (out / "config.json").write_text(json.dumps(config_dict, indent=2))
    epochs = [{k: v for k, v in record.items() if k != "seconds"} for record in result.history]
    final = epochs[-1]
    figures = {name: final[name] for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")}
    figures = {name: value for name, value in figures.items() if value is not None}
    figures["epochs_run"] = result.epochs_run
    split = {
        "val_fraction": params.val_fraction,
        "seed": params.seed,
        "train": len(train_at),
        "val": len(val_at),
        "unlabelled_skipped": dataset.unlabelled,
    }
    metrics = {
        "schema": METRICS_SCHEMA,
        "dataset": dataset.describe(),
        "classes": classes,
        "parent": {k: prepared.resource[k] for k in ("name", "version", "digest")},
        "head_replaced": head_replaced,
        "split": split,
        "epochs": epochs,
        "figures": figures,
        "stopped_early": result.stopped_early,
        "stop_reason": result.stop_reason,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    shas = [item.file.sha256 for item in dataset.items]
    (out / "split.json").write_text(
        json.dumps({**split, "train_items": [shas[i] for i in train_at], "val_items": [shas[i] for i in val_at]})
    )
    (out / "curves.png").write_bytes(curves_png(result.history))
    prepared.product = {
        "weights": weights,
        "config": config_dict,
        "reported_metrics": {
            **{name: value for name, value in figures.items() if name != "epochs_run"},
            "measured_on": "validation split",
            "dataset_digest": dataset.digest,
            "split": {"val_fraction": params.val_fraction, "seed": params.seed},
        },
        "dataset": dataset.describe(),
        "split": split,
        "publish_as": params.publish_as,
    }
    report.progress(1.0)
    return [weights, out / "config.json", out / "metrics.json", out / "split.json", out / "curves.png"]
