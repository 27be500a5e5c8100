"""Models from layer blocks over REST: the catalog, live validation, a version refused with the failing block
named, and a small CNN trained from scratch on handwritten digits, evaluated, used and exported.

Data no one here wrote: scikit-learn's handwritten digits 0, 1 and 2 (as 16x16 grey PNGs).
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import numpy as np
import pytest
from PIL import Image

from launcher.client import CommonsClient
from tests.api.conftest import digits_cnn, task_output
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items

pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
DIGITS = ["zero", "one", "two"]
PER_CLASS = 20
CNN = digits_cnn(channels=8, classes=3)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("L").save(buffer, format="PNG")
    return buffer.getvalue()


def digits_dataset(client: CommonsClient, classes: int = 3) -> dict[str, Any]:
    dataset = client.http.post("/datasets", json={"name": f"{classes} digits"}).json()
    for name in DIGITS[:classes]:
        client.http.post(f"/datasets/{dataset['id']}/classes", json={"name": name})
    for index, (image, label) in enumerate(digit_items(classes, PER_CLASS, size=16)):
        added = client.http.post(
            f"/datasets/{dataset['id']}/items",
            files={"files": (f"d{index}.png", png(image), "image/png")},
            data={"class": DIGITS[label]},
        )
        assert added.status_code == 201, added.text
    return dict(client.http.get(f"/datasets/{dataset['id']}").json())


def test_catalog_and_validation(stack: RunningStack) -> None:
    anonymous = stack.client()
    catalog = anonymous.http.get("/blocks/catalog").json()["blocks"]
    types = [block["type"] for block in catalog]
    assert types == [
        "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Dropout",
        "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
    ]  # fmt: skip
    conv = next(block for block in catalog if block["type"] == "Conv2d")
    required = {p["name"] for p in conv["parameters"] if p["required"]}
    assert required == {"in_channels", "out_channels", "kernel_size"}
    assert all(p["help"] for block in catalog for p in block["parameters"]) and all(b["help"] for b in catalog)

    report = anonymous.http.post("/blocks/validate", json=CNN).json()
    assert report["valid"] is True and report["errors"] == []
    assert [b["output_shape"] for b in report["blocks"]] == [[8, 16, 16], [8, 16, 16], [8, 8, 8], [512], [3]]
    assert report["parameters"] == (1 * 8 * 9 + 8) + (512 * 3 + 3)

    wrong = {**CNN, "blocks": [*CNN["blocks"][:4], {"type": "Linear", "in_features": 784, "out_features": 3}]}
    report = anonymous.http.post("/blocks/validate", json=wrong).json()
    assert report["valid"] is False and len(report["blocks"]) == 4
    assert report["errors"][0]["message"] == "block 5 Linear expects 784 inputs, block 4 Flatten gives 512"
    assert report["errors"][0]["block"] == 5


def test_a_cnn_from_blocks_trains_evaluates_predicts_and_exports(stack: RunningStack) -> None:
    learner = stack.new_user()
    name = f"cnn-{uuid.uuid4().hex[:8]}"
    learner.create_resource(name=name, kind="classifier.blocks", title="A small CNN")

    # A config that cannot run is refused at upload, naming the block.
    bad = {**CNN, "blocks": [{**CNN["blocks"][0], "in_channels": 3}, *CNN["blocks"][1:]]}
    refused = learner.http.post(f"/resources/{name}/versions", data={"config": json.dumps(bad)})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "block 1 Conv2d expects 3 input channels, the input gives 1"

    created = learner.http.post(f"/resources/{name}/versions", data={"config": json.dumps(CNN)})
    assert created.status_code == 201, created.text
    assert created.json()["config"]["classes"] == ["class 0", "class 1", "class 2"]

    # A dataset with another number of classes is refused at submit, with what to change.
    two = digits_dataset(learner, classes=2)
    response = learner.http.post(
        "/tasks", json={"resource": name, "version": 1, "mode": "train", "dataset": two["id"], "params": {}}
    )
    assert response.status_code == 422, response.text
    assert "has 2 classes but the last Linear (block 5) has 3 outputs" in response.json()["detail"]

    dataset = digits_dataset(learner)
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"freeze_backbone": True}, "params.freeze_backbone"),
        ({"epochs": 0}, "params.epochs"),
    ]
    for bad_params, field in refusals:
        body = {"resource": name, "version": 1, "mode": "train", "dataset": dataset["id"], "params": bad_params}
        response = learner.http.post("/tasks", json=body)
        assert response.status_code == 422 and response.json()["field"] == field, response.text
    response = learner.http.post("/tasks", json={"resource": name, "version": 1, "mode": "edit", "params": {}})
    assert response.status_code == 422 and "its modes are infer, train, evaluate, export" in response.json()["detail"]
    target = f"{name}-digits"
    params = {"epochs": 6, "batch_size": 8, "lr": 0.01, "val_fraction": 0.25, "seed": 2, "target_accuracy": None}
    task = learner.submit(
        resource=name, version=1, mode="train", dataset=dataset["id"], params={**params, "publish_as": target}
    )
    final = learner.wait(task["id"], timeout=600)
    assert final["status"] == "succeeded", final["error"]
    epochs = learner.metrics(task["id"])
    assert [e["epoch"] for e in epochs] == list(range(1, 7))
    assert epochs[-1]["val_accuracy"] > 0.6, epochs  # chance is 1/3
    trained = learner.http.get(f"/resources/{target}/versions/1").json()
    assert trained["config"]["classes"] == DIGITS and trained["config"]["blocks"] == created.json()["config"]["blocks"]
    assert trained["config"]["checkpoint"] == "model.safetensors"

    evaluation = learner.wait(
        learner.submit(resource=target, version=1, mode="evaluate", dataset=dataset["id"])["id"], timeout=300
    )
    assert evaluation["status"] == "succeeded", evaluation["error"]
    assert task_output(evaluation, "metrics.json").json()["accuracy"] > 0.6

    image, _ = digit_items(3, 1, skip=PER_CLASS + 3, size=16)[2]
    upload = learner.upload("two.png", png(image))
    prediction = learner.wait(
        learner.submit(resource=target, version=1, mode="infer", inputs=[upload["id"]], params={"top_k": 3})["id"],
        timeout=300,
    )
    assert prediction["status"] == "succeeded", prediction["error"]
    ranked = task_output(prediction, "predictions.json").json()["predictions"][0]["top"]
    assert sorted(r["label"] for r in ranked) == sorted(DIGITS)
    assert sum(r["probability"] for r in ranked) == pytest.approx(1.0, abs=1e-5)

    export = learner.wait(
        learner.submit(
            resource=target,
            version=1,
            mode="export",
            dataset=dataset["id"],
            params={"calibration_images": 24, "latency_repeats": 3, "publish_as": f"{target}-int8"},
        )["id"],
        timeout=600,
    )
    assert export["status"] == "succeeded", export["error"]
    names = {o["name"] for o in export["outputs"]}
    assert {"model.onnx", "model.torchscript.pt", "model-int8.torchscript.pt", "quantization.json"} <= names
    quantization = task_output(export, "quantization.json").json()
    assert quantization["accuracy"]["int8_accuracy"] >= quantization["accuracy"]["float_accuracy"] - 0.1
    int8 = learner.http.get(f"/resources/{target}-int8/versions/1").json()
    assert int8["config"]["quantization"]["activations"]
    again = learner.wait(
        learner.submit(resource=f"{target}-int8", version=1, mode="evaluate", dataset=dataset["id"])["id"],
        timeout=300,
    )
    assert again["status"] == "succeeded", again["error"]
