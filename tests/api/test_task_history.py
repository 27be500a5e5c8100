"""Results kept: the history names a task by its model, photos and dataset and previews it; all outputs come as
one zip whose files match the manifest; a training's public view for whoever may reproduce it, 404 for others.

Data no one here wrote: scikit-image's coffee photo, scikit-learn's handwritten digits 0 and 1.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from typing import Any

import httpx
from PIL import Image

from launcher.client import CommonsClient
from tests.api.conftest import AUTO_PARAMS, Published, digits_cnn
from tests.api.test_blocks_api import png
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items

DIGITS = ["zero", "one"]
TRAIN = {"epochs": 1, "batch_size": 8, "lr": 0.01, "val_fraction": 0.25, "seed": 2, "target_accuracy": None}


def zip_of(client: CommonsClient, task_id: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The task's outputs zip as {entry name: bytes}, and the manifest inside it."""
    response = client.http.get(f"/tasks/{task_id}/outputs.zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return files, json.loads(files["manifest.json"])


def assert_matches_manifest(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    digests = {o["name"]: o["sha256"] for o in manifest["outputs"]}
    for name, content in files.items():
        if name != "manifest.json":
            assert hashlib.sha256(content).hexdigest() == digests[name], name


def test_history_names_previews_and_zips_a_segmentation(
    stack: RunningStack, published: Published, coffee_png: bytes
) -> None:
    published.provider.grant(published.name, "*", "use")
    scientist = stack.new_user()
    upload = scientist.upload("coffee.png", coffee_png)
    task = scientist.wait(
        scientist.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)["id"]
    )
    assert task["status"] == "succeeded", task["error"]

    history = scientist.http.get("/tasks", params={"mode": "infer", "status": "succeeded"})
    assert history.status_code == 200, history.text
    [shown] = [t for t in history.json() if t["id"] == task["id"]]
    assert shown["input_names"] == ["coffee.png"]
    assert shown["model"] == f"{published.provider.username}/{published.name} v1"
    assert (shown["kind"], shown["owner"], shown["public"]) == ("segmenter.sam", scientist.username, False)
    assert shown["thumbnail_url"] == f"/api/v1/tasks/{task['id']}/thumbnail"
    for other in ({"mode": "train"}, {"status": "failed"}):
        assert task["id"] not in {t["id"] for t in scientist.http.get("/tasks", params=other).json()}
    refused = scientist.http.get("/tasks", params={"mode": "paint"})
    assert refused.status_code == 422 and "unknown mode 'paint'" in refused.text, refused.text
    assert scientist.http.get("/tasks", params={"limit": 501}).status_code == 422

    thumb = scientist.http.get(f"/tasks/{task['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (256, 171), "the 600x400 photo, 256 px on its long side"

    files, manifest = zip_of(scientist, task["id"])
    assert set(files) == {o["name"] for o in task["outputs"]} | {"manifest.json"}
    assert manifest["task"]["id"] == task["id"]
    assert_matches_manifest(files, manifest)

    for outsider in (stack.new_user(), published.provider):  # the model's owner did not submit it either
        for path in ("", "/thumbnail", "/outputs.zip", "/metrics"):
            answer = outsider.http.get(f"/tasks/{task['id']}{path}")
            assert answer.status_code == 404 and "no task" in answer.text, (path, answer.text)


def train_tiny_cnn(learner: CommonsClient) -> tuple[str, str, dict[str, Any]]:
    """A private dataset of 8 digits and a private CNN trained on it for one epoch: (source, dataset id, task)."""
    dataset = learner.http.post("/datasets", json={"name": "Two digits", "classes": DIGITS}).json()
    for index, (image, label) in enumerate(digit_items(len(DIGITS), 4, size=16)):
        added = learner.http.post(
            f"/datasets/{dataset['id']}/items",
            files={"files": (f"d{index}.png", png(image), "image/png")},
            data={"class": DIGITS[label]},
        )
        assert added.status_code == 201, added.text
    source = f"cnn-{uuid.uuid4().hex[:8]}"
    learner.create_resource(name=source, kind="classifier.blocks", title="A tiny CNN")
    created = learner.http.post(
        f"/resources/{source}/versions", data={"config": json.dumps(digits_cnn(channels=4, classes=2))}
    )
    assert created.status_code == 201, created.text
    params = {**TRAIN, "publish_as": f"{source}-trained"}
    task = learner.wait(
        learner.submit(resource=source, version=1, mode="train", dataset=dataset["id"], params=params)["id"]
    )
    assert task["status"] == "succeeded", task["error"]
    return source, dataset["id"], task


def test_a_training_shows_its_public_view_to_whoever_may_reproduce_it(stack: RunningStack) -> None:
    learner, researcher, stranger = stack.new_user(), stack.new_user(), stack.new_user()
    source, dataset_id, task = train_tiny_cnn(learner)
    assert learner.http.patch(f"/resources/{source}", json={"download": False}).status_code == 200  # run-only
    for caller in (researcher, stranger):
        assert caller.http.get(f"/tasks/{task['id']}").status_code == 404
    learner.grant(task["result"]["resource"], researcher.username, "use")
    learner.grant(source, researcher.username, "use")
    granted = learner.http.post(
        f"/datasets/{dataset_id}/grants", json={"username": researcher.username, "permission": "use"}
    )
    assert granted.status_code == 201, granted.text

    seen = researcher.http.get(f"/tasks/{task['id']}")
    assert seen.status_code == 200, seen.text
    view = seen.json()
    assert (view["public"], view["owner"], view["mode"]) == (True, learner.username, "train")
    assert (view["flow_run_id"], view["task_run_id"], view["inputs"]) == (None, None, [])
    assert [s["status"] for s in view["steps"]] == ["succeeded"] * 3 and view["manifest_url"]
    outputs = {o["name"]: o for o in view["outputs"]}
    assert outputs["model.safetensors"]["url"] is None and "run-only" in outputs["model.safetensors"]["withheld"]
    assert outputs["metrics.json"]["url"] and outputs["curves.png"]["url"]
    assert learner.task(task["id"])["outputs"][0]["url"], "the submitter still has every file"
    assert len(researcher.metrics(task["id"])) == 1
    assert researcher.http.get(f"/tasks/{task['id']}/logs").status_code == 404, "logs stay with the submitter"

    files, manifest = zip_of(researcher, task["id"])
    assert "model.safetensors" not in files and {"metrics.json", "curves.png", "manifest.json"} <= set(files)
    assert_matches_manifest(files, manifest)
    thumb = researcher.http.get(f"/tasks/{task['id']}/thumbnail")
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 256

    for path in ("", "/thumbnail", "/outputs.zip", "/metrics"):
        assert stranger.http.get(f"/tasks/{task['id']}{path}").status_code == 404, path
    again = researcher.reproduce(task["id"])
    assert again["reproduces"] == task["id"]
    researcher.http.post(f"/tasks/{again['id']}/cancel")
    assert httpx.get(outputs["metrics.json"]["url"], timeout=30).status_code == 200
