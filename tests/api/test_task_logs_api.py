"""GET /tasks/{id}/logs: the log lines of the task's Prefect run, for the task's owner only."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest

from tests.api.conftest import png_bytes
from tests.conftest import RunningStack

CONFIG = {"arch": "resnet18", "classes": ["a", "b"], "input_size": 32}


@pytest.mark.parametrize("lane", ["warm", "batch"])
def test_a_finished_task_has_its_run_logs(stack: RunningStack, lane: str) -> None:
    """The lines of the task's run: its flow run (batch) or its task run in a warm worker (no flow run)."""
    user = stack.new_user()
    name = f"logs-{uuid.uuid4().hex[:8]}"
    user.create_resource(name=name, kind="classifier.resnet", title="logs")
    assert user.http.post(f"/resources/{name}/versions", data={"config": json.dumps(CONFIG)}).status_code == 201
    upload = user.upload("grey.png", png_bytes(np.full((40, 40, 3), 128, dtype=np.uint8)))
    task = user.wait(user.submit(resource=name, version=1, inputs=[upload["id"]], params={}, lane=lane)["id"])
    assert task["status"] == "succeeded", task["error"]
    lines: list[dict[str, str]] = []
    deadline = time.monotonic() + 30  # workers ship log lines in batches every few seconds
    while time.monotonic() < deadline and not any("published: manifest" in line["message"] for line in lines):
        response = user.http.get(f"/tasks/{task['id']}/logs", params={"limit": 1000})
        assert response.status_code == 200, response.text
        lines = response.json()
        time.sleep(1)
    run_id = "task_run_id" if lane == "warm" else "flow_run_id"
    assert task["lane"] == lane and task[run_id], task
    messages = [line["message"] for line in lines]
    assert any(message.startswith("init: 1 input(s) fetched; running infer on cpu") for message in messages), messages
    assert any(message == f"published: manifest tasks/{task['id']}/manifest.json" for message in messages), messages
    assert {"timestamp", "level", "logger", "message"} <= set(lines[0])
    assert {line["level"] for line in lines} <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps)
    assert user.http.get(f"/tasks/{task['id']}/logs", params={"limit": 0}).status_code == 422
    assert stack.new_user().http.get(f"/tasks/{task['id']}/logs").status_code == 404
