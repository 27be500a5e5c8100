"""The learner's and the researcher's journey over REST: a dataset imported from a zip trains a ResNet-18
(live per-epoch metrics, early stop, lineage), evaluates, predicts and reproduces bit for bit on the CPU.

Data no one here wrote: scikit-learn's handwritten digits 0, 1 and 2, upscaled to 32x32 PNGs.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image

from launcher.client import CommonsClient
from tests.api.conftest import status_of, task_output
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items

DIGIT_NAMES = ["zero", "one", "two"]
PER_CLASS = 30
# Training's flow is the same on either registry; its registry writes run on both backends in tests/registry.
pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)

ARCH_CONFIG: dict[str, Any] = {"arch": "resnet18", "classes": ["cat", "dog"], "input_size": 32, "init_seed": 3}
TRAIN_PARAMS: dict[str, Any] = {
    "epochs": 12,
    "batch_size": 16,
    "lr": 1e-3,
    "target_accuracy": 0.9,
    "val_fraction": 0.3,
    "seed": 5,
    "augment": ["blur"],
}


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def digits_zip(*, per_class: int = PER_CLASS, unlabelled: int = 2) -> bytes:
    """ImageFolder layout: `<class>/<n>.png`, plus a few photos in `_unlabelled/`."""
    buffer = io.BytesIO()
    items = digit_items(len(DIGIT_NAMES), per_class + unlabelled)
    seen: dict[int, int] = {}
    with zipfile.ZipFile(buffer, "w") as archive:
        for image, label in items:
            n = seen[label] = seen.get(label, 0) + 1
            folder = DIGIT_NAMES[label] if n <= per_class else "_unlabelled"
            archive.writestr(f"{folder}/{label}-{n}.png", png(image))
    return buffer.getvalue()


def import_dataset(client: CommonsClient, archive: bytes, name: str = "Digits") -> dict[str, Any]:
    created = client.http.post("/datasets", json={"name": name})
    assert created.status_code == 201, created.text
    dataset_id = created.json()["id"]
    imported = client.http.post(
        f"/datasets/{dataset_id}/import", files={"file": ("digits.zip", archive, "application/zip")}
    )
    assert imported.status_code in (200, 201), imported.text
    return dict(client.http.get(f"/datasets/{dataset_id}").json())


def architecture_only(client: CommonsClient, config: dict[str, Any] = ARCH_CONFIG) -> str:
    name = f"resnet18-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=name, kind="classifier.resnet", title="ResNet-18 (untrained)", visibility="private")
    response = client.http.post(f"/resources/{name}/versions", data={"config": json.dumps(config)})
    assert response.status_code == 201, response.text
    return name


@dataclass
class Trained:
    learner: CommonsClient
    dataset: dict[str, Any]
    source: str
    target: str
    task: dict[str, Any]
    seen_while_running: list[dict[str, Any]]


@pytest.fixture(scope="module")
def trained(stack: RunningStack) -> Trained:
    """One training, watched from outside while it runs: metrics are read whenever the task still runs."""
    learner = stack.new_user()
    dataset = import_dataset(learner, digits_zip())
    source = architecture_only(learner)
    target = f"digits-{uuid.uuid4().hex[:8]}"
    task = learner.submit(
        resource=source,
        version=1,
        mode="train",
        dataset=dataset["id"],
        params={**TRAIN_PARAMS, "publish_as": target},
    )
    seen_while_running: list[dict[str, Any]] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        metrics = learner.metrics(task["id"])
        current = learner.task(task["id"])
        if current["status"] == "running" and len(metrics) > len(seen_while_running):
            seen_while_running = metrics  # read before the task ended: it was still running afterwards
        if current["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)
    final = learner.wait(task["id"], timeout=60)
    assert final["status"] == "succeeded", final["error"]
    return Trained(learner, dataset, source, target, final, seen_while_running)


def test_training_reports_epochs_live_and_stops_at_the_target(trained: Trained) -> None:
    task = trained.task
    assert [step["name"] for step in task["steps"]] == ["init", "train", "publish"]
    assert task["lane"] == "batch" and task["dataset"] == trained.dataset["id"]
    assert task["dataset_digest"] == trained.dataset["digest"]
    assert trained.seen_while_running, "per-epoch metrics were readable while the task ran"
    metrics = trained.learner.metrics(task["id"])
    assert metrics[: len(trained.seen_while_running)] == trained.seen_while_running
    assert [m["epoch"] for m in metrics] == list(range(1, len(metrics) + 1))
    assert set(metrics[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}
    assert task["epochs_done"] == len(metrics)
    # Early stop: the last epoch reached the target, none before it, and fewer epochs ran than allowed.
    assert metrics[-1]["val_accuracy"] >= 0.9
    assert all(m["val_accuracy"] < 0.9 for m in metrics[:-1])
    assert len(metrics) < TRAIN_PARAMS["epochs"]
    assert sorted(o["name"] for o in task["outputs"]) == [
        "config.json",
        "curves.png",
        "metrics.json",
        "model.safetensors",
        "split.json",
    ]
    curves = Image.open(io.BytesIO(task_output(task, "curves.png").content))
    assert curves.format == "PNG" and curves.size[0] > curves.size[1]
    report = task_output(task, "metrics.json").json()
    assert report["head_replaced"] is True and report["classes"] == trained.dataset["classes"]
    assert sorted(trained.dataset["classes"]) == sorted(DIGIT_NAMES)
    assert report["split"]["unlabelled_skipped"] == 6
    assert report["split"]["train"] + report["split"]["val"] == 3 * PER_CLASS
    assert report["figures"]["val_accuracy"] == metrics[-1]["val_accuracy"]
    assert report["best_epoch"] == len(metrics), "the epoch that reached the target is the best so far"
    split = task_output(task, "split.json").json()
    assert not set(split["train_items"]) & set(split["val_items"])


def test_trained_version_has_lineage_and_the_dataset_digest(trained: Trained) -> None:
    result = trained.task["result"]
    assert result["resource"] == trained.target and result["version"] == 1
    metrics = trained.learner.metrics(trained.task["id"])
    best = result["best_epoch"]
    assert best == max(range(len(metrics)), key=lambda i: metrics[i]["val_accuracy"]) + 1
    assert result["best_val_accuracy"] == metrics[best - 1]["val_accuracy"]
    assert result["warnings"] == [], "27 validation photos are enough"
    version = trained.learner.http.get(f"/resources/{trained.target}/versions/1").json()
    assert version["parent_resource"] == trained.source and version["parent"] == 1
    source_version = trained.learner.http.get(f"/resources/{trained.source}/versions/1").json()
    assert version["parent_digest"] == source_version["digest"]
    assert version["provenance"]["task"] == trained.task["id"]
    assert version["provenance"]["dataset"]["digest"] == trained.dataset["digest"]
    assert version["provenance"]["params"]["seed"] == TRAIN_PARAMS["seed"]
    assert version["reported_metrics"]["dataset_digest"] == trained.dataset["digest"]
    assert version["config"]["classes"] == trained.dataset["classes"]
    assert version["config"]["checkpoint"] == "model.safetensors"
    weights = next(f for f in version["files"] if f["name"] == "model.safetensors")
    produced = next(o for o in trained.task["outputs"] if o["name"] == "model.safetensors")
    assert weights["sha256"] == produced["sha256"]
    assert version["reported_metrics"]["best_epoch"] == best
    assert version["reported_metrics"]["val_accuracy"] == result["best_val_accuracy"]
    resource = trained.learner.http.get(f"/resources/{trained.target}").json()
    assert resource["owner"] == trained.learner.username and resource["visibility"] == "private"
    percent = round(result["best_val_accuracy"] * 100)
    assert resource["title"] == f"ResNet-18 trained on {trained.dataset['name']}, {percent} % val."


def test_evaluate_counts_add_up_and_wrong_images_come_first(trained: Trained) -> None:
    learner = trained.learner
    task = learner.wait(
        learner.submit(resource=trained.target, version=1, mode="evaluate", dataset=trained.dataset["id"], params={})[
            "id"
        ]
    )
    assert task["status"] == "succeeded", task["error"]
    assert [step["name"] for step in task["steps"]] == ["init", "evaluate", "publish"]
    assert "reproduction.json" not in {o["name"] for o in task["outputs"]}, "the version reports no accuracy"
    metrics = task_output(task, "metrics.json").json()
    labelled = trained.dataset["labelled_count"]
    assert metrics["count"] == labelled == 3 * PER_CLASS
    assert metrics["right"] + metrics["wrong"] == labelled
    assert sum(map(sum, metrics["confusion_matrix"])) == labelled
    assert metrics["accuracy"] == pytest.approx(metrics["right"] / labelled)
    assert sum(row["support"] for row in metrics["per_class"].values()) == labelled
    assert metrics["accuracy"] > 1 / 3, "the trained model beats chance on its own data"
    predictions = task_output(task, "predictions.json").json()["predictions"]
    assert len(predictions) == labelled
    correct = [p["correct"] for p in predictions]
    assert correct == sorted(correct), "wrong ones first"
    assert sum(not c for c in correct) == metrics["wrong"]
    for row in predictions:
        assert set(row["probabilities"]) == set(DIGIT_NAMES)
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert row["predicted"] == max(row["probabilities"], key=row["probabilities"].get)
    assert Image.open(io.BytesIO(task_output(task, "confusion.png").content)).format == "PNG"


def test_trained_version_predicts_new_photos(trained: Trained) -> None:
    learner = trained.learner
    photos = digit_items(3, 1, skip=40)
    uploads = [learner.upload(f"digit-{label}.png", png(image)) for image, label in photos]
    task = learner.wait(
        learner.submit(resource=trained.target, version=1, inputs=[u["id"] for u in uploads], params={"top_k": 2})["id"]
    )
    assert task["status"] == "succeeded", task["error"]
    report = task_output(task, "predictions.json").json()
    assert len(report["predictions"]) == 3
    for prediction in report["predictions"]:
        assert len(prediction["top"]) == 2 and {t["label"] for t in prediction["top"]} <= set(DIGIT_NAMES)


def test_reproducing_the_training_matches_bit_for_bit(trained: Trained) -> None:
    learner = trained.learner
    again = learner.reproduce(trained.task["id"])
    assert again["reproduces"] == trained.task["id"] and again["mode"] == "train"
    final = learner.wait(again["id"])
    assert final["status"] == "succeeded", final["error"]
    assert final["result"] is None, "a reproduction publishes no new version"
    report = task_output(final, "reproduction.json").json()
    assert report["pass"] is True and report["digests_match"] is True, report["summary"]
    assert report["deterministic_expected"] is True and report["differing_outputs"] == []
    names = {row["name"] for row in report["figures"]}
    assert {"val_accuracy", "val_loss", "train_loss", "epochs_run"} <= names
    for row in report["figures"]:
        assert row["original"] == row["reproduced"] and row["tolerance"] == 0 and row["pass"] is True
    assert {row["name"] for row in report["outputs"]} >= {"model.safetensors", "metrics.json", "curves.png"}
    versions = learner.http.get(f"/resources/{trained.target}/versions").json()
    assert [v["version"] for v in versions] == [1]


def test_evaluate_against_reported_metrics(trained: Trained) -> None:
    """A provider's reported accuracy on a dataset digest is checked by any evaluate on that version."""
    learner = trained.learner
    evaluation = learner.wait(
        learner.submit(resource=trained.target, version=1, mode="evaluate", dataset=trained.dataset["id"], params={})[
            "id"
        ]
    )
    accuracy = task_output(evaluation, "metrics.json").json()["accuracy"]
    weights = task_output(trained.task, "model.safetensors").content
    config = task_output(trained.task, "config.json").json()
    reported = {"accuracy": accuracy, "dataset_digest": trained.dataset["digest"]}
    response = learner.http.post(
        f"/resources/{trained.target}/versions",
        files=[("files", ("model.safetensors", weights, "application/octet-stream"))],
        data={"config": json.dumps(config), "reported_metrics": json.dumps(reported)},
    )
    assert response.status_code == 201, response.text
    task = learner.wait(
        learner.submit(resource=trained.target, version=2, mode="evaluate", dataset=trained.dataset["id"], params={})[
            "id"
        ]
    )
    report = task_output(task, "reproduction.json").json()
    assert report["against"] == "reported_metrics" and report["pass"] is True, report["summary"]
    assert report["digests_match"] is True
    assert report["figures"] == [
        {"name": "accuracy", "original": accuracy, "reproduced": accuracy, "tolerance": 0.01, "pass": True}
    ]
    again = learner.wait(learner.reproduce(task["id"])["id"])
    rerun = task_output(again, "reproduction.json").json()
    assert rerun["against"] == "task" and rerun["pass"] is True and rerun["digests_match"] is True


def test_a_user_of_the_published_model_may_reproduce_its_training(stack: RunningStack, trained: Trained) -> None:
    researcher = stack.new_user()
    assert status_of(lambda: researcher.reproduce(trained.task["id"]))[0] == 404
    trained.learner.grant(trained.target, researcher.username, "use")
    assert status_of(lambda: researcher.reproduce(trained.task["id"]))[0] in (403, 404), "source and data stay private"
    trained.learner.grant(trained.source, researcher.username, "use")
    grant = trained.learner.http.post(
        f"/datasets/{trained.dataset['id']}/grants", json={"username": researcher.username, "permission": "use"}
    )
    assert grant.status_code == 201, grant.text
    again = researcher.reproduce(trained.task["id"])
    assert researcher.task(again["id"])["reproduces"] == trained.task["id"]
    researcher.http.post(f"/tasks/{again['id']}/cancel")


def test_cancel_during_training_publishes_nothing(stack: RunningStack) -> None:
    learner = stack.new_user()
    dataset = import_dataset(learner, digits_zip(per_class=12, unlabelled=0))
    source = architecture_only(learner, {**ARCH_CONFIG, "classes": DIGIT_NAMES})
    task = learner.submit(
        resource=source,
        version=1,
        mode="train",
        dataset=dataset["id"],
        params={"epochs": 500, "batch_size": 8, "target_accuracy": None},
    )
    deadline = time.monotonic() + 300
    while not learner.metrics(task["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert learner.metrics(task["id"]), "a first epoch finished"
    live: list[dict[str, Any]] = []
    for name, data in learner.stream(task["id"]):  # the stream replays finished epochs, then follows new ones
        if name == "epoch":
            live.append(data)
        if len(live) == 3:
            break
    assert [record["epoch"] for record in live] == list(range(1, len(live) + 1))
    assert live == learner.metrics(task["id"])[: len(live)]
    assert learner.task(task["id"])["status"] == "running"
    busy = learner.http.delete(f"/datasets/{dataset['id']}")
    assert busy.status_code == 409 and "still using" in busy.json()["detail"]
    assert learner.http.post(f"/tasks/{task['id']}/cancel").status_code == 202
    final = learner.wait(task["id"])
    assert final["status"] == "cancelled" and final["outputs"] == [] and final["result"] is None
    assert [v["version"] for v in learner.http.get(f"/resources/{source}/versions").json()] == [1]
    time.sleep(2)  # the worker notices within a second and stops between batches
    epochs = len(learner.metrics(task["id"]))
    time.sleep(2)
    assert len(learner.metrics(task["id"])) == epochs, "training stopped"
    assert status_of(lambda: learner.reproduce(task["id"]))[0] == 409


def test_dataset_tasks_refuse_bad_requests(stack: RunningStack) -> None:
    learner = stack.new_user()
    dataset = import_dataset(learner, digits_zip(per_class=3, unlabelled=0))
    source = architecture_only(learner)

    def submit(**changes: Any) -> tuple[int, str]:
        spec: dict[str, Any] = {"resource": source, "version": 1, "mode": "train", "dataset": dataset["id"]}
        spec.update(changes)
        params = spec.pop("params", {})
        return status_of(lambda: learner.submit(params=params, **spec))

    code, message = submit(dataset=None)
    assert code == 422 and "dataset" in message
    upload = learner.upload("x.png", png(digit_items(1, 1)[0][0]))
    code, message = submit(inputs=[upload["id"]])
    assert code == 422 and "inputs" in message
    code, message = submit(mode="infer")
    assert code == 422 and "not a dataset" in message
    code, message = submit(lane="warm")
    assert code == 422 and "batch lane" in message
    code, message = submit(params={"epochs": 0})
    assert code == 422 and "params.epochs" in message
    code, message = submit(params={"publish_as": "Not A Slug"})
    assert code == 422 and "publish_as" in message
    code, message = submit(mode="evaluate")
    assert code == 422 and "does not predict" in message

    stranger = stack.new_user()
    code, message = status_of(
        lambda: stranger.submit(resource=source, version=1, mode="train", dataset=dataset["id"], params={})
    )
    assert code == 404
    other = stranger.http.post("/datasets", json={"name": "Mine"}).json()
    code, message = submit(dataset=other["id"])
    assert code == 404, "another user's private dataset"

    # publish_as names a resource of the learner's own (a stranger's name neither blocks nor leaks: see
    # tests/registry/test_names.py); one of another kind cannot take a trained classifier
    taken = f"taken-{uuid.uuid4().hex[:8]}"
    learner.create_resource(name=taken, kind="segmenter.sam", title="A segmenter of mine")
    code, message = submit(params={"publish_as": taken})
    assert code == 409 and "segmenter.sam resource" in message

    trainer = stack.new_user()
    learner.grant(source, trainer.username, "use")
    learner.http.post(f"/datasets/{dataset['id']}/grants", json={"username": trainer.username, "permission": "use"})
    code, message = status_of(
        lambda: trainer.submit(resource=source, version=1, mode="train", dataset=dataset["id"], params={})
    )
    assert code == 403 and "publish_as" in message

    single = learner.http.post("/datasets", json={"name": "One class", "classes": ["zero"]}).json()
    code, message = submit(dataset=single["id"])
    assert code == 422 and "at least 2" in message

    assert status_of(lambda: stranger.metrics("no-such-task"))[0] == 404
