"""The Tasks pages: the history card, a task's steps, outputs (predictions previewed), manifest and logs;
"Reproduce" gives a passing report — in Chromium."""

from __future__ import annotations

import json
import uuid

import numpy as np
from playwright.sync_api import Page, expect

from tests.api.conftest import png_bytes
from tests.conftest import RunningStack
from tests.ui.conftest import new_account, screenshot, sign_in

CONFIG = {"arch": "resnet18", "classes": ["a", "b"], "input_size": 32, "init_seed": 1}


def test_task_page_shows_everything_and_reproduces(page: Page, ui_stack: RunningStack) -> None:
    user, username = new_account(ui_stack)
    name = f"tasks-{uuid.uuid4().hex[:8]}"
    user.create_resource(name=name, kind="classifier.resnet", title="For the task page")
    assert user.http.post(f"/resources/{name}/versions", data={"config": json.dumps(CONFIG)}).status_code == 201
    upload = user.upload("grey.png", png_bytes(np.full((40, 40, 3), 90, dtype=np.uint8)))
    task = user.wait(user.submit(resource=name, version=1, inputs=[upload["id"]], params={"top_k": 2})["id"])
    assert task["status"] == "succeeded", task["error"]

    sign_in(page, username, next_path="/tasks")
    card = page.locator(".task-card").filter(has_text=name)
    expect(card).to_contain_text("succeeded")
    expect(card).to_contain_text("grey.png")
    card.get_by_role("link", name="grey.png").click()
    page.wait_for_url(f"**/tasks/{task['id']}")
    expect(page.locator("#task-status")).to_have_text("succeeded")
    expect(page.locator("ol.steps li.succeeded")).to_have_count(3)
    expect(page.get_by_role("link", name="predictions.json")).to_be_visible()
    predictions = page.locator("table.predictions")  # the predictions previewed as a small table
    expect(predictions).to_contain_text("grey.png")
    expect(predictions.locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="manifest.json")).to_be_visible()
    for _ in range(20):  # log lines reach Prefect a few seconds after the run
        if "published: manifest" in page.locator("#logs").inner_text():
            break
        page.get_by_role("button", name="Refresh logs").click()
        page.wait_for_timeout(1000)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#logs")).to_contain_text("published: manifest")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    page.get_by_role("button", name="Reproduce").click()
    page.wait_for_url(lambda url: task["id"] not in url)
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=120_000)
    expect(page.locator("#reproduction")).to_contain_text("Reproduction report: pass")
    expect(page.locator("#reproduction")).to_contain_text("bit-for-bit identical")
    screenshot(page, "task")
