"""Webhooks over REST on an API with the default policy (public addresses only): registration refuses addresses
inside the network with a 422 naming the field, a task's `webhook` likewise; a user's webhooks are theirs alone,
bounded in number, scoped to items they own; the task-webhook secret is stable."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from commons.settings import Settings
from launcher.client import CommonsClient
from launcher.stack import Stack
from tests.api.conftest import publish
from tests.conftest import RunningStack, api_settings, running

PUBLIC = "https://93.184.215.14/hooks/commons"  # a public address, written as one: no DNS lookup needed
INSIDE = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://10.0.0.8/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://localhost:8080/hook", "loopback"),
]
MAX_PER_USER = 3


@pytest.fixture(scope="module")
def closed_api(shared_services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """An API of its own (no worker: tasks stay pending) with the default address policy and a low webhook bound."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COMMONS_WEBHOOK_MAX_PER_USER", str(MAX_PER_USER))
        env.delenv("COMMONS_WEBHOOK_ALLOW_PRIVATE", raising=False)
        with (
            api_settings(
                shared_services, tmp_path_factory, backend="sqlite", work_pool="webhooks-closed-none", warm_workers=0
            ) as settings,
            running(Stack(settings), Stack.start_api),
        ):
            yield RunningStack(settings=settings, backend="sqlite")


def register(client: CommonsClient, url: str = PUBLIC, **extra: object) -> dict:
    response = client.http.post("/webhooks", json={"url": url, "events": ["version.created"], **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.parametrize(("url", "kind"), INSIDE)
def test_an_address_inside_the_network_is_a_422(closed_api: RunningStack, url: str, kind: str) -> None:
    client = closed_api.new_user()
    response = client.http.post("/webhooks", json={"url": url, "events": ["task.ended"]})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "url" and f"a {kind} address" in body["detail"]
    assert client.http.get("/webhooks").json() == []


def test_a_task_webhook_inside_the_network_is_a_422(closed_api: RunningStack, tiny_weights: Path) -> None:
    published = publish(closed_api, tiny_weights)
    upload = published.provider.upload("a.png", _png())
    for url, kind in INSIDE[:3]:
        response = published.provider.http.post(
            "/tasks",
            json={"resource": published.name, "inputs": [upload["id"]], "webhook": url, "lane": "batch"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "webhook" and kind in response.json()["detail"]
    filter_only = {"resource": published.name, "inputs": [upload["id"]], "webhook_events_filter": ["start"]}
    response = published.provider.http.post("/tasks", json=filter_only)
    assert response.status_code == 422 and response.json()["field"] == "webhook"
    assert published.provider.http.get("/tasks").json() == [], "no task was stored"


def test_one_s_webhooks_are_one_s_own_and_bounded(closed_api: RunningStack) -> None:
    alice, bob = closed_api.new_user(), closed_api.new_user()
    created = register(alice, description="lab notifier")
    assert created["secret"].startswith("whsec_") and created["events"] == ["version.created"]
    assert created["resource"] is None and created["dataset"] is None
    hook = created["id"]
    assert alice.http.get(f"/webhooks/{hook}/secret").json() == {"key": created["secret"]}
    assert [row["id"] for row in alice.http.get("/webhooks").json()] == [hook]
    assert alice.http.get(f"/webhooks/{hook}/deliveries").json() == []
    for path in (f"/webhooks/{hook}", f"/webhooks/{hook}/secret", f"/webhooks/{hook}/deliveries"):
        assert bob.http.get(path).status_code == 404, path
    assert bob.http.delete(f"/webhooks/{hook}").status_code == 404
    for _ in range(MAX_PER_USER - 1):
        register(alice)
    response = alice.http.post("/webhooks", json={"url": PUBLIC, "events": ["task.ended"]})
    assert response.status_code == 409 and "the most one user may have" in response.json()["detail"]
    assert alice.http.delete(f"/webhooks/{hook}").status_code == 204
    assert alice.http.get(f"/webhooks/{hook}").status_code == 404
    bad = alice.http.post("/webhooks", json={"url": PUBLIC, "events": ["everything"]})
    assert bad.status_code == 422


def test_a_webhook_on_one_item_is_for_its_owner(closed_api: RunningStack) -> None:
    alice, bob = closed_api.new_user(), closed_api.new_user()
    name = f"hooked-{uuid.uuid4().hex[:8]}"
    alice.create_resource(name=name, kind="classifier.resnet", title="Hooked", visibility="public")
    ref = f"{alice.username}/{name}"
    assert register(alice, resource=ref)["resource"] == ref
    response = bob.http.post("/webhooks", json={"url": PUBLIC, "events": ["version.created"], "resource": ref})
    assert response.status_code == 403, response.text
    private = f"{alice.username}/secret-{uuid.uuid4().hex[:6]}"
    alice.create_resource(name=private.split("/")[1], kind="classifier.resnet", title="Private")
    response = bob.http.post("/webhooks", json={"url": PUBLIC, "events": ["version.created"], "resource": private})
    assert response.status_code == 404, "another's private resource is not even confirmed to exist"


def test_the_task_webhook_secret_is_stable_per_user(closed_api: RunningStack) -> None:
    alice, bob = closed_api.new_user(), closed_api.new_user()
    first = alice.http.get("/webhooks/default/secret").json()["key"]
    assert first.startswith("whsec_") and alice.http.get("/webhooks/default/secret").json()["key"] == first
    assert bob.http.get("/webhooks/default/secret").json()["key"] != first


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 90, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
