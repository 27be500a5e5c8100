"""Frozen inputs stay frozen over REST: a photo deleted after a training succeeded leaves the dataset, but its
bytes stay for the task's snapshot, so the training still reproduces bit for bit.

Data no one here wrote: scikit-learn's handwritten digits 0 and 1 (as 16x16 grey PNGs).
"""

from __future__ import annotations

import json
import uuid

import pytest

from commons.store import ObjectStore, keys
from tests.api.conftest import digits_cnn, task_output
from tests.api.test_blocks_api import png
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items

# The check runs on either registry the same way; its registry writes run on both backends in tests/registry.
pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
DIGITS = ["zero", "one"]
CNN = digits_cnn(channels=4, classes=2)
PARAMS = {"epochs": 1, "batch_size": 8, "lr": 0.01, "val_fraction": 0.25, "seed": 2, "target_accuracy": None}


def test_a_photo_deleted_after_training_still_reproduces(stack: RunningStack) -> None:
    learner = stack.new_user()
    dataset = learner.http.post("/datasets", json={"name": "Two digits", "classes": DIGITS}).json()
    base = f"/datasets/{dataset['id']}"
    for index, (image, label) in enumerate(digit_items(len(DIGITS), 4, size=16)):
        added = learner.http.post(
            f"{base}/items", files={"files": (f"d{index}.png", png(image), "image/png")}, data={"class": DIGITS[label]}
        )
        assert added.status_code == 201, added.text
    name = f"cnn-{uuid.uuid4().hex[:8]}"
    learner.create_resource(name=name, kind="classifier.blocks", title="A tiny CNN")
    created = learner.http.post(f"/resources/{name}/versions", data={"config": json.dumps(CNN)})
    assert created.status_code == 201, created.text
    trained = learner.wait(
        learner.submit(resource=name, version=1, mode="train", dataset=dataset["id"], params=PARAMS)["id"]
    )
    assert trained["status"] == "succeeded", trained["error"]

    victim = learner.http.get(f"{base}/items", params={"limit": 100}).json()[0]
    assert learner.http.delete(f"{base}/items/{victim['id']}").status_code == 204
    after = learner.http.get(base).json()
    assert (after["item_count"], after["retained_items"], after["retained_bytes"]) == (7, 1, victim["size"])
    assert victim["id"] not in {item["id"] for item in learner.http.get(f"{base}/items", params={"limit": 100}).json()}
    assert learner.http.get(f"{base}/items/{victim['id']}").status_code == 404
    store = ObjectStore.from_settings(stack.settings)
    assert store.exists(keys.dataset_item(dataset["id"], victim["sha256"], "png")), "kept for the task's snapshot"

    again = learner.wait(learner.reproduce(trained["id"])["id"])
    assert again["status"] == "succeeded", again["error"]
    report = task_output(again, "reproduction.json").json()
    assert report["pass"] is True and report["digests_match"] is True, report["summary"]
