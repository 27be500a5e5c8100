"""An Idempotency-Key is bound to the request that first carried it (user, method, path, body), as Stripe does.

Seen before: the same key with a different body, or sent to another endpoint, answered 202 with the earlier,
unrelated task. Now that is a 422 that says to use a new key; the same request again still answers the task
it made (202), and one user's key means nothing to another user.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.api.conftest import AUTO_PARAMS, Published
from tests.conftest import RunningStack


def body(published: Published, upload: str, **changes: Any) -> dict[str, Any]:
    return {"resource": published.name, "version": 1, "inputs": [upload], "params": AUTO_PARAMS, **changes}


def post_task(http: httpx.Client, json: dict[str, Any], key: str) -> httpx.Response:
    return http.post("/tasks", json=json, headers={"Idempotency-Key": key})


def assert_key_refused(response: httpx.Response, key: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert f"Idempotency-Key {key!r}" in detail and "different request" in detail and "new key" in detail, detail
    assert response.json()["field"] == "Idempotency-Key"


@pytest.fixture
def upload(published: Published, coffee_png: bytes) -> str:
    return str(published.provider.upload("coffee.png", coffee_png)["id"])


def test_same_request_same_task_other_body_422(stack: RunningStack, published: Published, upload: str) -> None:
    http = published.provider.http
    first = post_task(http, body(published, upload), "key-1")
    assert first.status_code == 202, first.text
    # the same request (keys in another order, a default spelled out) is the same request: the same task
    reordered = {"lane": "auto", **dict(reversed(list(body(published, upload).items())))}
    again = post_task(http, reordered, "key-1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"], again.text
    # another body with the same key: refused, and no task is made
    other = body(published, upload, params={**AUTO_PARAMS, "seed": 1})
    assert_key_refused(post_task(http, other, "key-1"), "key-1")
    assert_key_refused(post_task(http, body(published, upload, version="latest"), "key-1"), "key-1")
    ids = [task["id"] for task in http.get("/tasks").json()]
    assert ids == [first.json()["id"]]
    # a new key for the other body works
    assert post_task(http, other, "key-2").status_code == 202


def test_key_reused_on_another_endpoint_is_422(stack: RunningStack, published: Published, upload: str) -> None:
    http = published.provider.http
    first = post_task(http, body(published, upload), "shared-key")
    assert first.status_code == 202, first.text
    dataset = http.post("/datasets", json={"name": "Augment me"}).json()["id"]
    response = http.post(f"/datasets/{dataset}/augment", json={}, headers={"Idempotency-Key": "shared-key"})
    assert_key_refused(response, "shared-key")
    cancelled = http.post(f"/tasks/{first.json()['id']}/cancel", headers={"Idempotency-Key": "shared-key"})
    assert cancelled.status_code in (202, 409)  # cancel takes no key (409: the tiny task already ended)


def test_keys_are_per_user(stack: RunningStack, published: Published, upload: str) -> None:
    provider = published.provider
    first = post_task(provider.http, body(published, upload), "mine")
    assert first.status_code == 202
    other = stack.new_user()
    response = post_task(other.http, body(published, upload), "mine")  # a private resource: 404, not the task
    assert response.status_code == 404, response.text
    assert first.json()["id"] not in response.text


def test_concurrent_retries_make_one_task(stack: RunningStack, published: Published, upload: str) -> None:
    """Five identical requests with one key at once: one task, every answer names it."""
    token = published.provider.http.headers["Authorization"]
    barrier = threading.Barrier(5)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def retry() -> None:
        with httpx.Client(
            base_url=stack.settings.api_url + "/api/v1", headers={"Authorization": token}, timeout=60
        ) as http:
            barrier.wait(timeout=60)
            response = post_task(http, body(published, upload), "racing-key")
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=retry) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [r.status_code for r in answers] == [202] * 5, [r.text[:200] for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
