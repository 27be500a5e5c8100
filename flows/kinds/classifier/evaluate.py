"""The evaluate step for classifiers (`classifier.resnet`, `classifier.blocks`): the version's figures on the
task's labelled dataset.

Writes under `work_dir/outputs`: `metrics.json` (accuracy, right/wrong counts, per-class precision,
recall, F1, the confusion matrix; `figures` for reproduction reports), `predictions.json` (per photo:
item id, name, sha256, true label, predicted label, every class's probability; wrong ones first) and
`confusion.png`.
"""

from __future__ import annotations

import json
from pathlib import Path

from commons.errors import InvalidInput
from flows.kinds.classifier.common import load_items, load_model, model_device, parse_config
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter

METRICS_SCHEMA = "model-commons/evaluate-metrics/1"


def evaluate_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.classifier.config import parse_eval_params
    from resources.classifier.evaluate import evaluate
    from resources.classifier.tools.plots import confusion_png

    dataset = prepared.dataset
    if dataset is None:
        raise InvalidInput("an evaluate task needs a dataset", field="dataset")
    config = parse_config(prepared)
    params = parse_eval_params(prepared.params)
    classes = list(config.classes)
    model = load_model(prepared, config)
    with prepared.timed("evaluate"):
        items = load_items(dataset, classes=classes, input_size=config.input_size, max_pixels=max_image_pixels)
        report.progress(0.4)
        measured = evaluate(
            model, items=items, config=config, device=model_device(prepared, config), batch_size=params.batch_size
        )

    out = prepared.outputs
    out.mkdir(parents=True, exist_ok=True)
    figures = {name: measured[name] for name in ("accuracy", "right", "wrong", "count")}
    figures["macro_f1"] = sum(row["f1"] for row in measured["per_class"].values()) / len(classes)
    metrics = {
        "schema": METRICS_SCHEMA,
        "resource": prepared.reference(),
        "dataset": dataset.describe(),
        "classes": classes,
        **{name: measured[name] for name in ("accuracy", "right", "wrong", "count", "per_class")},
        "confusion_matrix": measured["confusion_matrix"],
        "unlabelled_skipped": dataset.unlabelled,
        "figures": figures,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    predictions = [
        {
            "item": item.item_id,
            "name": item.name,
            "sha256": item.file.sha256,
            **{key: row[key] for key in ("true", "predicted", "correct", "probabilities")},
        }
        for item, row in zip(dataset.items, measured["predictions"], strict=True)
    ]
    predictions.sort(key=lambda row: row["correct"])  # wrong ones first; stable, so dataset order within each
    (out / "predictions.json").write_text(json.dumps({"classes": classes, "predictions": predictions}, indent=2))
    (out / "confusion.png").write_bytes(confusion_png(measured["confusion_matrix"], classes))
    report.progress(1.0)
    return [out / "metrics.json", out / "predictions.json", out / "confusion.png"]
