"""The commons as Label Studio's ML backend, driven through the real Label Studio's API: a SAM version answers an
annotator's keypoint with a brush mask that Label Studio's own RLE decoder reads as the commons task's mask; a
classifier version's choices land in Label Studio as stored predictions; the training webhook; the credentials."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from skimage import data as skdata

from tests.api.conftest import publish, task_output
from tests.conftest import RunningStack
from tests.label_studio.conftest import LabelStudio

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

SAM_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="mask" toName="image"><Label value="Bean"/><Label value="Cup"/></BrushLabels>
  <KeyPointLabels name="point" toName="image" smart="true"><Label value="Cup"/></KeyPointLabels>
  <RectangleLabels name="box" toName="image" smart="true"><Label value="Cup"/></RectangleLabels>
</View>"""
CLASSIFIER_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="texture" toName="image"><Choice value="brick"/><Choice value="grass"/><Choice value="gravel"/>
  </Choices>
</View>"""
RESNET: dict[str, Any] = {"arch": "resnet18", "classes": ["brick", "grass", "gravel"], "input_size": 32, "init_seed": 7}
DECODE = """import json, sys
from label_studio_sdk.converter.brush import decode_rle
region = json.load(sys.stdin)
out = decode_rle(region["value"]["rle"]).reshape(region["original_height"], region["original_width"], 4)
print(json.dumps((out[..., 3] > 0).astype(int).tolist()))
"""


def data_url(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def api_token(user: Any) -> tuple[str, str]:
    made = user.http.post("/users/me/tokens", json={"name": "label studio", "expires_in_days": 30})
    assert made.status_code == 201, made.text
    return user.http.get("/users/me").json()["username"], made.json()["token"]


def connect(ls: httpx.Client, stack: RunningStack, *, config: str, path: str, auth: tuple[str, str]) -> tuple[int, int]:
    """A Label Studio project with `config`, connected to the commons backend at `path`: (project id, backend id)."""
    project = ls.post("/api/projects", json={"title": f"commons {uuid.uuid4().hex[:6]}", "label_config": config})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    backend = ls.post(
        "/api/ml",
        json={
            "project": project_id,
            "url": f"{stack.settings.api_url}/api/v1/label-studio/{path}",
            "title": "commons",
            "is_interactive": True,
            "auth_method": "BASIC_AUTH",
            "basic_auth_user": auth[0],
            "basic_auth_pass": auth[1],
        },
    )
    assert backend.status_code == 201, backend.text
    state = ls.get(f"/api/ml/{backend.json()['id']}").json()
    assert state["state"] == "CO", state  # connected: health and setup answered
    return project_id, backend.json()["id"]


def import_task(ls: httpx.Client, project_id: int, image: str) -> int:
    imported = ls.post(f"/api/projects/{project_id}/import?return_task_ids=true", json=[{"data": {"image": image}}])
    assert imported.status_code == 201, imported.text
    return int(imported.json()["task_ids"][0])


def test_sam_masks_reach_label_studio(stack: RunningStack, label_studio: LabelStudio, tiny_weights: Path) -> None:
    published = publish(stack, tiny_weights)
    auth = api_token(published.provider)
    photo = np.asarray(Image.fromarray(skdata.coffee()).resize((96, 64)))
    with label_studio.client() as ls:
        path = f"{auth[0]}/{published.name}/1"
        project_id, backend_id = connect(ls, stack, config=SAM_CONFIG, path=path, auth=auth)
        task_id = import_task(ls, project_id, data_url(photo))
        keypoint = {
            "type": "keypointlabels",
            "original_width": 96,
            "original_height": 64,
            "is_positive": True,
            "value": {"x": 50.0, "y": 50.0, "width": 1.0, "keypointlabels": ["Cup"]},
        }
        answered = ls.post(
            f"/api/ml/{backend_id}/interactive-annotating", json={"task": task_id, "context": {"result": [keypoint]}}
        )
    assert answered.status_code == 200, answered.text
    prediction = answered.json()["data"]
    assert prediction["model_version"] == f"{path.rsplit('/', 1)[0]}:v1"
    [region] = prediction["result"]
    assert region["type"] == "brushlabels" and region["value"]["brushlabels"] == ["Cup"]
    assert (region["from_name"], region["to_name"]) == ("mask", "image")
    task = published.provider.wait(region["meta"]["commons_task"])
    assert task["status"] == "succeeded" and task["params"]["prompt"]["points"] == [[48.0, 32.0, 1]]
    segments = json.loads(
        next(task_output(task, o["name"]) for o in task["outputs"] if o["name"].endswith("segments.json")).content
    )
    rle = segments["segments"][0]["mask_rle"]
    expected = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    decoded = subprocess.run(
        [str(label_studio.python), "-c", DECODE], input=json.dumps(region), capture_output=True, text=True, check=True
    )
    assert np.array_equal(np.array(json.loads(decoded.stdout)), expected)


def test_classifier_choices_land_in_label_studio(stack: RunningStack, label_studio: LabelStudio) -> None:
    provider = stack.new_user()
    name = f"textures-{uuid.uuid4().hex[:8]}"
    provider.create_resource(name=name, kind="classifier.resnet", title="Textures", visibility="private")
    assert provider.http.post(f"/resources/{name}/versions", data={"config": json.dumps(RESNET)}).status_code == 201
    auth = api_token(provider)
    brick = np.stack([skdata.brick()[:48, :48]] * 3, axis=-1)
    with label_studio.client() as ls:
        project_id, _ = connect(ls, stack, config=CLASSIFIER_CONFIG, path=f"{auth[0]}/{name}/1", auth=auth)
        task_id = import_task(ls, project_id, data_url(brick))
        action = ls.post(
            f"/api/dm/actions?id=retrieve_tasks_predictions&project={project_id}",
            json={"selectedItems": {"all": True, "excluded": []}},
        )
        assert action.status_code == 200, action.text
        stored = ls.get(f"/api/predictions?task={task_id}").json()
    [prediction] = stored
    assert prediction["model_version"] == f"{auth[0]}/{name}:v1"
    [region] = prediction["result"]
    assert region["type"] == "choices" and region["value"]["choices"][0] in RESNET["classes"]
    assert 0 < prediction["score"] <= 1
    task = provider.wait(region["meta"]["commons_task"])
    report = task_output(task, "predictions.json").json()
    assert report["predictions"][0]["top"][0]["label"] == region["value"]["choices"][0]


def test_webhook_and_credentials(stack: RunningStack, tiny_weights: Path) -> None:
    published = publish(stack, tiny_weights)
    user, token = api_token(published.provider)
    base = f"{stack.settings.api_url}/api/v1/label-studio/{user}/{published.name}/1"
    event = {"action": "ANNOTATION_CREATED", "project": {"id": 1}, "annotation": {"id": 3, "result": []}}
    answered = httpx.post(f"{base}/webhook", json=event, auth=(user, token), timeout=30)
    assert answered.status_code == 201, answered.text
    assert answered.json()["action"] == "ANNOTATION_CREATED"
    assert httpx.post(f"{base}/webhook", json=event, timeout=30).status_code == 401
    assert httpx.get(f"{base}/health", auth=(user, "correct horse battery"), timeout=30).status_code == 401
    assert httpx.get(f"{base}/health", auth=("someone-else", token), timeout=30).status_code == 401
    health = httpx.get(f"{base}/health", auth=(user, token), timeout=30).json()
    assert health["status"] == "UP" and health["model_version"] == f"{user}/{published.name}:v1"
    stranger = stack.new_user()
    _, other = api_token(stranger)
    assert httpx.get(f"{base}/health", headers={"Authorization": f"Bearer {other}"}, timeout=30).status_code == 404
    bad = {"tasks": [{"id": 1, "data": {"image": "http://169.254.169.254/latest"}}], "label_config": SAM_CONFIG}
    refused = httpx.post(f"{base}/predict", json=bad, auth=(user, token), timeout=30)
    assert refused.status_code == 422 and "does not fetch" in refused.text
    many = {"tasks": [{"id": i, "data": {}} for i in range(17)], "label_config": SAM_CONFIG}
    assert httpx.post(f"{base}/predict", json=many, auth=(user, token), timeout=30).status_code == 422
    setup = httpx.post(f"{base}/setup", json={"schema": CLASSIFIER_CONFIG}, auth=(user, token), timeout=30)
    assert setup.status_code == 422 and "BrushLabels" in setup.text


def test_predict_bodies_are_bounded(stack: RunningStack, tiny_weights: Path) -> None:
    """A 4 MB photo as a data URL fits a predict call; a body past 4/3 of max_upload_bytes (plus framing) is 413
    before it is read, and an anonymous one 401; basic auth (Label Studio's) passes the credentials-first check."""
    published = publish(stack, tiny_weights)
    user, token = api_token(published.provider)
    url = f"{stack.settings.api_url}/api/v1/label-studio/{user}/{published.name}/1/predict"
    noise = np.random.default_rng(4).integers(0, 256, size=(1160, 1160, 3), dtype=np.uint8)
    photo = data_url(noise)
    assert len(photo) > 4 * 1000 * 1000 * 4 // 3, "a 4 MB photo"
    body = {"tasks": [{"id": 1, "data": {"image": photo}}], "label_config": CLASSIFIER_CONFIG}
    fits = httpx.post(url, json=body, auth=(user, token), timeout=60)
    assert fits.status_code == 422 and "BrushLabels" in fits.text, fits.text  # read, then refused by the config
    limit = stack.settings.max_upload_bytes * 4 // 3 + 1024 * 1024
    padding = "A" * (limit + 1)
    too_big = {"tasks": [{"id": 1, "data": {"image": "data:image/png;base64," + padding}}], "label_config": "x"}
    refused = httpx.post(url, json=too_big, auth=(user, token), timeout=60)
    assert refused.status_code == 413 and "limit" in refused.text, refused.text
    anonymous = httpx.post(url, json=body, timeout=60)
    assert anonymous.status_code == 401
