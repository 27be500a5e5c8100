"""Webhook deliveries end to end: an API that may reach private addresses (COMMONS_WEBHOOK_ALLOW_PRIVATE=true, as
an admin would set for a closed network) and a worker; a real receiver on 127.0.0.1. Every body verifies with the
Standard Webhooks library and the secret the API gave; a 500 is retried; the delivery log tells what happened."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from standardwebhooks import Webhook as SpecWebhook

from commons.settings import Settings
from launcher.client import CommonsClient
from launcher.stack import Stack
from resources.sam.model import TINY_CONFIG
from tests.api.conftest import AUTO_PARAMS, publish
from tests.conftest import RunningStack, api_settings, running
from tests.webhook_receiver import Received, receiving


def _start(stack: Stack) -> None:
    stack.create_deployment()
    stack.start_worker()
    stack.start_api()


@pytest.fixture(scope="module")
def open_stack(shared_services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """An API allowed to reach private addresses, retrying fast, and a batch worker of its own work pool."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COMMONS_WEBHOOK_ALLOW_PRIVATE", "true")
        env.setenv("COMMONS_WEBHOOK_RETRY_BASE_SECONDS", "0.3")
        env.setenv("COMMONS_WEBHOOK_POLL_SECONDS", "0.2")
        with (
            api_settings(
                shared_services, tmp_path_factory, backend="sqlite", work_pool="webhooks-open", warm_workers=0
            ) as settings,
            running(Stack(settings), _start),
        ):
            yield RunningStack(settings=settings, backend="sqlite")


def verified(secret: str, items: list[Received]) -> list[dict]:
    """Each body, verified with the spec's library (signature, id and a fresh timestamp)."""
    return [dict(SpecWebhook(secret).verify(item.body, item.headers)) for item in items]


def types(items: list[Received], secret: str) -> list[str]:
    return [body["type"] for body in verified(secret, items)]


def deliveries(client: CommonsClient, path: str, **params: str) -> list[dict]:
    response = client.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_item_events_are_signed_retried_and_logged(open_stack: RunningStack, tiny_weights: Path) -> None:
    published = publish(open_stack, tiny_weights, visibility="public")
    owner, ref = published.provider, f"{published.provider.username}/{published.name}"
    with receiving(answers=[500]) as receiver:
        created = owner.http.post(
            "/webhooks",
            json={"url": receiver.url(), "events": ["version.created", "access.requested"], "resource": ref},
        )
        assert created.status_code == 201, created.text
        hook, secret = created.json()["id"], created.json()["secret"]

        ping = owner.http.post(f"/webhooks/{hook}/ping")
        assert ping.status_code == 202, ping.text
        seen = receiver.wait_for(lambda got: len(got) >= 2)  # a 500, then the retry
        assert types(seen, secret) == ["webhook.ping", "webhook.ping"]
        assert seen[0].headers["webhook-id"] == seen[1].headers["webhook-id"] == ping.json()["delivery"]["id"]
        [logged] = deliveries(owner, f"/webhooks/{hook}/deliveries")
        assert (logged["status"], logged["attempts"]) == ("succeeded", 2)
        assert [entry["status_code"] for entry in logged["attempt_log"]] == [500, 200]

        owner.upload_version(published.name, files=[tiny_weights], config=TINY_CONFIG)
        stranger = open_stack.new_user()
        asked = stranger.http.post(f"/resources/{ref}/access-requests", json={"permission": "modify", "message": "hi"})
        assert asked.status_code == 201, asked.text
        seen = receiver.wait_for(lambda got: len(got) >= 4)
        version, request = verified(secret, seen[2:])
        assert version["type"] == "version.created" and version["data"]["resource"] == ref
        assert version["data"]["version"] == 2 and version["data"]["created_by"] == owner.username
        assert request["type"] == "access.requested" and request["data"]["requester"] == stranger.username
        assert request["data"]["permission"] == "modify" and request["data"]["message"] == "hi"
        assert stranger.http.get(f"/webhooks/{hook}/deliveries").status_code == 404


def test_a_task_s_own_webhook_hears_it_start_report_and_complete(open_stack: RunningStack, tiny_weights: Path) -> None:
    published = publish(open_stack, tiny_weights)
    client = published.provider
    secret = client.http.get("/webhooks/default/secret").json()["key"]
    upload = client.upload("coffee.png", _png())
    with receiving() as receiver:
        subscriber = client.http.post("/webhooks", json={"url": receiver.url("/items"), "events": ["task.ended"]})
        assert subscriber.status_code == 201, subscriber.text
        response = client.http.post(
            "/tasks",
            json={
                "resource": f"{client.username}/{published.name}",
                "inputs": [upload["id"]],
                "params": AUTO_PARAMS,
                "lane": "batch",
                "webhook": receiver.url("/task"),
                "webhook_events_filter": ["start", "output", "logs", "completed"],
            },
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["id"]
        done = client.wait(task_id, timeout=300)
        assert done["status"] == "succeeded", done["error"]
        seen = receiver.wait_for(
            lambda got: {item.path for item in got} == {"/items", "/task"} and _sent_all(client, task_id)
        )
        own = verified(secret, [item for item in seen if item.path == "/task"])
        kinds = [body["type"] for body in own]  # in the order they arrived: deliveries are sent side by side
        assert sorted(set(kinds)) == ["task.completed", "task.logs", "task.output", "task.start"], kinds
        assert kinds.count("task.start") == kinds.count("task.completed") == 1
        assert {body["data"]["id"] for body in own} == {task_id}
        final = next(body["data"] for body in own if body["type"] == "task.completed")
        assert final["status"] == "succeeded" and final["outputs_total"] == len(done["outputs"])
        assert {entry["name"] for entry in final["outputs"]} == {entry["name"] for entry in done["outputs"]}
        assert "X-Amz" not in str(own), "no presigned URL leaves the commons in a webhook"
        [ended] = verified(subscriber.json()["secret"], [item for item in seen if item.path == "/items"])
        assert ended["type"] == "task.ended" and ended["data"]["status"] == "succeeded"
        logged = deliveries(client, "/webhooks/deliveries", task=task_id)  # newest first: as they were made
        assert len(logged) == len(own) + 1 and {row["status"] for row in logged} == {"succeeded"}
        made = [row["event"] for row in reversed(logged) if row["webhook_id"] is None]
        assert made[0] == "task.start" and made[-2:] == ["task.output", "task.completed"], made
        detail = client.http.get(f"/webhooks/deliveries/{logged[0]['id']}").json()
        assert detail["payload"]["data"]["id"] == task_id


def _sent_all(client: CommonsClient, task_id: str) -> bool:
    """Whether every delivery about the task has ended (none pending)."""
    rows = deliveries(client, "/webhooks/deliveries", task=task_id)
    return bool(rows) and all(row["status"] != "pending" for row in rows)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), 120, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
