"""Per-user quotas on the real API: tasks pending or running at once (429 with Retry-After), bytes stored (413),
admins higher; and the admin's usage view.

The module starts its own API (on each database backend, sharing the session's S3 and Prefect servers) with
small quotas: 2 tasks at once (3 for admins) and 25 MB of storage. It has no worker and no deployment, so a task
stays pending, and pending tasks count against the quota as running ones do.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from commons.settings import Settings
from launcher.client import CommonsClient
from launcher.stack import Stack
from resources.sam.model import TINY_CONFIG
from tests.conftest import RunningStack, api_settings, running

TASKS = 2
ADMIN_TASKS = 3
STORAGE = 25_000_000
AUTO = {"mode": "auto", "auto": {"points_per_side": 4}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def quota_stack(
    request: pytest.FixtureRequest, shared_services: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    backend = request.param
    with (
        api_settings(
            shared_services,
            tmp_path_factory,
            backend=backend,
            work_pool=f"quotas-{backend}-none",  # no deployment: tasks stay pending
            warm_workers=0,
            max_active_tasks=TASKS,
            admin_max_active_tasks=ADMIN_TASKS,
            max_storage_bytes=STORAGE,
        ) as settings,
        running(Stack(settings), Stack.start_api),
    ):
        yield RunningStack(settings=settings, backend=backend)


def publish_tiny_sam(client: CommonsClient, weights: Path) -> str:
    name = f"sam-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=name, kind="segmenter.sam", title="Tiny SAM", visibility="private")
    client.upload_version(name, files=[weights], config=TINY_CONFIG)
    return name


def noise_png(seed: int, side: int = 1000) -> bytes:
    """About 3 MB that PNG cannot compress."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def ready_to_submit(
    stack: RunningStack, weights: Path, photo: bytes, *, admin: bool = False
) -> tuple[CommonsClient, str, str]:
    """A new user (an admin if `admin`) with a tiny SAM of theirs and a photo uploaded: the client, the resource's
    name and the upload's id."""
    client = stack.new_user()
    if admin:
        stack.make_admin(client)
    return client, publish_tiny_sam(client, weights), client.upload("coffee.png", photo)["id"]


def submit(client: CommonsClient, name: str, upload_id: str) -> Any:
    return client.http.post("/tasks", json={"resource": name, "mode": "infer", "inputs": [upload_id], "params": AUTO})


def test_task_quota_answers_429_until_a_task_ends(
    quota_stack: RunningStack, tiny_weights: Path, coffee_png: bytes
) -> None:
    client, name, upload_id = ready_to_submit(quota_stack, tiny_weights, coffee_png)
    accepted = [submit(client, name, upload_id) for _ in range(TASKS)]
    assert [r.status_code for r in accepted] == [202] * TASKS, [r.text for r in accepted]

    refused = submit(client, name, upload_id)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "30"
    detail = refused.json()["detail"]
    assert "task quota reached" in detail and f"{TASKS} tasks pending or running" in detail
    assert "COMMONS_MAX_ACTIVE_TASKS" in detail and "cancel" in detail
    assert len(client.http.get("/tasks").json()) == TASKS, "a refused submission stores no task"

    cancelled = client.http.post(f"/tasks/{accepted[0].json()['id']}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert submit(client, name, upload_id).status_code == 202, "an ended task frees its place"
    assert submit(client, name, upload_id).status_code == 429


def test_concurrent_submissions_cannot_both_take_the_last_place(
    quota_stack: RunningStack, tiny_weights: Path, coffee_png: bytes
) -> None:
    client, name, upload_id = ready_to_submit(quota_stack, tiny_weights, coffee_png)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: submit(client, name, upload_id).status_code, range(6)))
    assert statuses == [202] * TASKS + [429] * (6 - TASKS), statuses
    active = [task for task in client.http.get("/tasks").json() if task["status"] in ("pending", "scheduled")]
    assert len(active) == TASKS


def test_admins_have_the_higher_task_quota(quota_stack: RunningStack, tiny_weights: Path, coffee_png: bytes) -> None:
    admin, name, upload_id = ready_to_submit(quota_stack, tiny_weights, coffee_png, admin=True)
    statuses = [submit(admin, name, upload_id).status_code for _ in range(ADMIN_TASKS + 1)]
    assert statuses == [202] * ADMIN_TASKS + [429], statuses
    refused = submit(admin, name, upload_id)
    assert "COMMONS_ADMIN_MAX_ACTIVE_TASKS" in refused.json()["detail"]


def test_storage_quota_counts_versions_photos_and_dataset_items(quota_stack: RunningStack, tiny_weights: Path) -> None:
    client = quota_stack.new_user()
    publish_tiny_sam(client, tiny_weights)  # about 20.4 MB of version files
    first, second = noise_png(1), noise_png(2)
    dataset = client.http.post("/datasets", json={"name": "noise"}).json()
    added = client.http.post(f"/datasets/{dataset['id']}/items", files={"files": ("a.png", first, "image/png")})
    assert added.status_code == 201, added.text
    used = tiny_weights.stat().st_size + len(first)

    refused = client.http.post("/uploads", files={"file": ("b.png", second, "image/png")})
    assert refused.status_code == 413, refused.text
    detail = refused.json()["detail"]
    assert "storage quota reached" in detail and f"you store {used:,} bytes" in detail
    assert f"dataset photos {len(first):,}" in detail and f"of {STORAGE:,} (COMMONS_MAX_STORAGE_BYTES)" in detail
    assert "DELETE /api/v1/datasets/{id}/items/{item}" in detail
    more = client.http.post(f"/datasets/{dataset['id']}/items", files={"files": ("b.png", second, "image/png")})
    assert more.status_code == 413, more.text

    item = added.json()[0]["id"]
    assert client.http.delete(f"/datasets/{dataset['id']}/items/{item}").status_code == 204
    again = client.http.post("/uploads", files={"file": ("b.png", second, "image/png")})
    assert again.status_code == 201, "deleting a dataset photo frees its bytes"


def test_a_version_upload_over_the_quota_is_refused(quota_stack: RunningStack, tiny_weights: Path) -> None:
    client = quota_stack.new_user()
    name = publish_tiny_sam(client, tiny_weights)
    with tiny_weights.open("rb") as weights:
        refused = client.http.post(
            f"/resources/{name}/versions",
            data={"config": json.dumps(TINY_CONFIG)},
            files={"files": (tiny_weights.name, weights, "application/octet-stream")},
        )
    assert refused.status_code == 413, refused.text
    assert f"adding {tiny_weights.stat().st_size:,} bytes" in refused.json()["detail"]
    assert len(client.http.get(f"/resources/{name}/versions").json()) == 1


def test_admin_usage_view(quota_stack: RunningStack, tiny_weights: Path, coffee_png: bytes) -> None:
    client, name, upload_id = ready_to_submit(quota_stack, tiny_weights, coffee_png)
    assert submit(client, name, upload_id).status_code == 202
    token = client.http.post("/users/me/tokens", json={"name": "script"})
    assert token.status_code == 201, token.text
    username = client.http.get("/users/me").json()["username"]

    refused = client.http.get("/admin/usage")
    assert refused.status_code == 403, refused.text

    admin = quota_stack.new_user()
    quota_stack.make_admin(admin)
    rows: list[dict[str, Any]] = []
    page = 1
    while True:  # paged: 2 users a page
        batch = admin.http.get("/admin/usage", params={"limit": 2, "page": page})
        assert batch.status_code == 200, batch.text
        assert len(batch.json()) <= 2
        rows += batch.json()
        if len(batch.json()) < 2:
            break
        page += 1
    assert len({row["user_id"] for row in rows}) == len(rows), "pages do not overlap"
    mine = next(row for row in rows if row["username"] == username)
    assert mine["tasks_active"] == 1 and mine["tasks_quota"] == TASKS
    assert mine["api_tokens"] == 1
    storage = mine["storage_bytes"]
    assert storage["uploads"] == len(coffee_png)
    assert storage["version_files"] == tiny_weights.stat().st_size
    assert storage["dataset_items"] == 0
    assert storage["total"] == len(coffee_png) + tiny_weights.stat().st_size and storage["quota"] == STORAGE
    me = next(row for row in rows if row["is_admin"] and row["tasks_quota"] == ADMIN_TASKS)
    assert me["storage_bytes"]["quota"] == quota_stack.settings.admin_max_storage_bytes
