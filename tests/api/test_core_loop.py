"""End to end on real services: REST → Prefect flow run on the worker → outputs and manifest in S3."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from commons.store import ObjectStore, keys
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.api.conftest import AUTO_PARAMS, Published, publish
from tests.conftest import RunningStack

EXPECTED_FILES = {"hard.png", "blended.png", "labels.png", "segments.json", "summary.json"}
COCO_FILES = {"segments.coco.json", "images.coco.json"}  # the task's segments in COCO (test_sam_coco_results)


def fetch(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def test_segmentation_task_end_to_end(stack: RunningStack, coffee_png: bytes, tmp_path: Path) -> None:
    # Weights no earlier test ran (the shared tiny weights may already be in the worker's content-addressed cache),
    # so the first task's fetch is a miss and the second's a hit.
    weights = tmp_path / str(TINY_CONFIG["checkpoint"])
    save_random_weights(parse_sam_config(TINY_CONFIG), weights, seed=uuid.uuid4().int % 2**31)
    published = publish(stack, weights)
    published.provider.grant(published.name, "*", "use")
    scientist = stack.new_user()
    upload = scientist.upload("coffee.png", coffee_png)
    assert (upload["width"], upload["height"]) == (600, 400)

    started = time.monotonic()
    task = scientist.submit(
        resource=published.name, version=published.version["version"], inputs=[upload["id"]], params=AUTO_PARAMS
    )
    assert time.monotonic() - started < 5, "POST /tasks must answer at once, not wait for the work"
    assert task["status"] in ("pending", "scheduled")
    assert [s["name"] for s in task["steps"]] == ["init", "infer", "publish"]
    assert task["lane"] == "warm", "a one-photo infer task goes to the warm lane while a warm worker listens"

    events = list(scientist.events(task["id"]))
    assert events[-1]["task_run_id"], "the work ran as a Prefect task run in the warm worker"
    assert events[-1]["flow_run_id"] is None, "a warm task starts no flow run"
    assert events[-1]["status"] == "succeeded", events[-1]["error"]
    seen_statuses = [e["status"] for e in events]
    assert "running" in seen_statuses
    done = scientist.task(task["id"])
    assert all(step["status"] == "succeeded" and step["started_at"] and step["finished_at"] for step in done["steps"])
    assert done["progress"] == 1.0

    outputs = {o["name"]: o for o in done["outputs"]}
    assert set(outputs) == {f"coffee/{name}" for name in EXPECTED_FILES} | COCO_FILES
    files = {name.split("/")[1]: fetch(o["url"]) for name, o in outputs.items() if name.startswith("coffee/")}
    for name, content in files.items():
        assert hashlib.sha256(content).hexdigest() == outputs[f"coffee/{name}"]["sha256"]

    hard = np.asarray(Image.open(io.BytesIO(files["hard.png"])))
    blended = np.asarray(Image.open(io.BytesIO(files["blended.png"])))
    labels = np.asarray(Image.open(io.BytesIO(files["labels.png"])))
    assert hard.shape == blended.shape == (400, 600, 3)
    assert labels.shape == (400, 600)
    segments = json.loads(files["segments.json"])
    assert segments["image"] == {"name": "coffee.png", "width": 600, "height": 400, "sha256": upload["sha256"]}
    assert segments["resource"]["digest"] == published.version["digest"]
    assert segments["params"]["auto"]["points_per_side"] == 4
    assert len(segments["segments"]) > 0
    for segment in segments["segments"]:
        decoded = mask_utils.decode({"size": segment["rle"]["size"], "counts": segment["rle"]["counts"].encode()})
        assert np.array_equal(decoded.astype(bool), labels == segment["id"]), f"segment {segment['id']}"
        assert segment["area"] == int((labels == segment["id"]).sum())
        if segment["area"]:
            assert tuple(hard[labels == segment["id"]][0]) != (0, 0, 0)
    assert (hard[labels == 0] == 0).all(), "background is black"

    manifest = json.loads(fetch(done["manifest_url"]))
    assert manifest["resource"]["digest"] == published.version["digest"]
    assert manifest["inputs"][0]["sha256"] == upload["sha256"]
    assert {o["name"]: o["sha256"] for o in manifest["outputs"]} == {n: o["sha256"] for n, o in outputs.items()}
    assert manifest["environment"]["torch"] and manifest["environment"]["device"] in ("cpu", "cuda")
    assert manifest["resource"]["files"][0]["cache"] == "miss"

    again = scientist.submit(resource=published.name, version="latest", inputs=[upload["id"]], params=AUTO_PARAMS)
    second = scientist.wait(again["id"])
    assert second["status"] == "succeeded", second["error"]
    second_manifest = json.loads(fetch(second["manifest_url"]))
    assert second_manifest["resource"]["files"][0]["cache"] == "hit", "weights must come from the local cache"
    assert manifest["timings"]["model_cache"] in ("miss", "hit"), "the warm worker caches loaded models"
    assert second_manifest["timings"]["model_cache"] == "hit", "the warm worker kept the model loaded"
    assert second_manifest["timings"]["model_load_s"] < manifest["timings"]["model_load_s"] or (
        manifest["timings"]["model_cache"] == "hit"
    )
    second_segments = next(o for o in second["outputs"] if o["name"].endswith("segments.json"))
    assert second_segments["sha256"] == outputs["coffee/segments.json"]["sha256"], "same inputs, same result"


def test_idempotency_key_returns_the_same_task(stack: RunningStack, published: Published, coffee_png: bytes) -> None:
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    first = client.submit(
        resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS, idempotency_key="retry-me"
    )
    second = client.submit(
        resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS, idempotency_key="retry-me"
    )
    assert first["id"] == second["id"]
    assert client.wait(first["id"])["status"] == "succeeded"
    ids = [t["id"] for t in client.http.get("/tasks").json()]
    assert ids.count(first["id"]) == 1


@pytest.mark.parametrize("lane", ["batch", "warm"])
def test_cancel_stops_the_run_and_publishes_nothing(
    stack: RunningStack, published: Published, coffee_png: bytes, store: ObjectStore, lane: str
) -> None:
    """Batch: Prefect's cancellation stops the flow run's process. Warm: the flow stops at its next check."""
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    slow = {"mode": "auto", "auto": {"points_per_side": 48, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}}
    task = client.submit(resource=published.name, version=1, inputs=[upload["id"]], params=slow, lane=lane)
    assert task["lane"] == lane
    deadline = time.monotonic() + 60
    while client.task(task["id"])["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    response = client.http.post(f"/tasks/{task['id']}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    time.sleep(8)  # long enough for the run to have finished had it not been stopped
    final = client.task(task["id"])
    assert final["status"] == "cancelled"
    assert final["outputs"] == [] and final["manifest_url"] is None
    assert not store.exists(keys.task_manifest(task["id"]))
    again = client.http.post(f"/tasks/{task['id']}/cancel")
    assert again.status_code == 409
    infer_step = next(step for step in final["steps"] if step["name"] == "infer")
    assert infer_step["status"] == "cancelled"
    if lane == "warm":  # the worker gave up the long job: a small task gets through at once
        quick = client.submit(
            resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS, lane="warm"
        )
        assert client.wait(quick["id"], timeout=60)["status"] == "succeeded"
    if lane == "batch":
        run = httpx.get(f"{stack.settings.resolved_prefect_api_url}/flow_runs/{final['flow_run_id']}", timeout=10)
        assert run.json()["state"]["type"] in ("CANCELLED", "CANCELLING")


def test_prompt_mode_points_and_boxes(stack: RunningStack, published: Published, coffee_png: bytes) -> None:
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    params = {
        "mode": "prompt",
        "outputs": ["json"],
        "prompt": {"points": [[300, 200, 1], [50, 50, 0]], "boxes": [[100, 80, 400, 300]]},
    }
    task = client.wait(client.submit(resource=published.name, version=1, inputs=[upload["id"]], params=params)["id"])
    assert task["status"] == "succeeded", task["error"]
    names = {o["name"] for o in task["outputs"]}
    assert names == {"coffee/segments.json", "coffee/labels.png", "coffee/summary.json"} | COCO_FILES
    segments = json.loads(fetch(next(o["url"] for o in task["outputs"] if o["name"] == "coffee/segments.json")))
    assert segments["mode"] == "prompt" and len(segments["segments"]) >= 1


def test_health_reports_every_component(stack: RunningStack) -> None:
    body = httpx.get(f"{stack.settings.api_url}/api/v1/health", timeout=10).json()
    assert body == {
        "status": "ok",
        "components": {"database": "ok", "object_store": "ok", "prefect": "ok", "worker": "ok"},
    }
