"""The classifier train runner's outputs: curves.png marks the published (best) epoch, and split.json records
which photos validated, by sha256 and by the dataset's item ids, as Evaluate reads them.

Data no one here wrote: scikit-learn's handwritten digits 0, 1 and 2 (as 16x16 grey PNGs).
"""

from __future__ import annotations

import io
import json
import uuid

import numpy as np
import pytest
from PIL import Image

from resources.classifier.tools.plots import BEST
from tests.api.conftest import digits_cnn, task_output
from tests.api.test_blocks_api import png
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
DIGITS = ["zero", "one", "two"]
PER_CLASS = 4
PARAMS = {"epochs": 2, "batch_size": 8, "lr": 0.01, "val_fraction": 0.25, "seed": 4, "target_accuracy": None}


def test_curves_mark_the_best_epoch_and_the_split_names_the_validation_items(stack: RunningStack) -> None:
    learner = stack.new_user()
    dataset = learner.http.post("/datasets", json={"name": "Three digits", "classes": DIGITS}).json()
    items: dict[str, dict[str, str]] = {}  # item id → sha256, label
    for index, (image, label) in enumerate(digit_items(len(DIGITS), PER_CLASS, size=16)):
        added = learner.http.post(
            f"/datasets/{dataset['id']}/items",
            files={"files": (f"d{index}.png", png(image), "image/png")},
            data={"class": DIGITS[label]},
        )
        assert added.status_code == 201, added.text
        row = added.json()[0]
        items[row["id"]] = {"sha256": row["sha256"], "label": row["class"]}
    name = f"cnn-{uuid.uuid4().hex[:8]}"
    learner.create_resource(name=name, kind="classifier.blocks", title="A tiny CNN")
    config = digits_cnn(channels=2, classes=len(DIGITS))
    assert learner.http.post(f"/resources/{name}/versions", data={"config": json.dumps(config)}).status_code == 201

    task = learner.wait(
        learner.submit(resource=name, version=1, mode="train", dataset=dataset["id"], params=PARAMS)["id"]
    )
    assert task["status"] == "succeeded", task["error"]

    best = task["result"]["best_epoch"]
    metrics = task_output(task, "metrics.json").json()
    assert best in (1, 2) and metrics["best_epoch"] == best
    assert metrics["epochs"][best - 1]["val_accuracy"] == max(e["val_accuracy"] for e in metrics["epochs"])
    curves = np.asarray(Image.open(io.BytesIO(task_output(task, "curves.png").content)).convert("RGB"))
    assert (curves == np.array(BEST, dtype=np.uint8)).all(axis=2).any(), "the best epoch is marked on the curves"

    split = task_output(task, "split.json").json()
    assert len(split["val_item_ids"]) == split["val"] == len(DIGITS)  # one of four per class
    assert len(split["train_item_ids"]) == split["train"] == len(DIGITS) * (PER_CLASS - 1)
    assert set(split["val_item_ids"]) | set(split["train_item_ids"]) == set(items)
    assert not set(split["val_item_ids"]) & set(split["train_item_ids"])
    assert [items[i]["sha256"] for i in split["val_item_ids"]] == split["val_items"]
    assert [items[i]["sha256"] for i in split["train_item_ids"]] == split["train_items"]
    assert sorted(items[i]["label"] for i in split["val_item_ids"]) == sorted(DIGITS), "stratified: one of each"
