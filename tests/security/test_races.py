"""Concurrent creations of one name: exactly one 201, every other request a 409 naming it — never a 500.

Ten threads, each with its own connection, send the same creation at once against the running API, on SQLite
and PostgreSQL (the `stack` fixture's two backends). The losers pass the existence check before the winner
commits, so the unique constraint decides: the insert fails, and the API must turn that into a Conflict.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import httpx

from tests.conftest import RunningStack

RACERS = 10


def race(
    stack: RunningStack, token_header: str, send: Callable[[httpx.Client], httpx.Response]
) -> list[httpx.Response]:
    """Send `send` from RACERS threads released together by a barrier; the responses in any order."""
    barrier = threading.Barrier(RACERS)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def racer() -> None:
        headers = {"Authorization": token_header} if token_header else {}
        with httpx.Client(base_url=stack.settings.api_url + "/api/v1", headers=headers, timeout=60) as http:
            http.get("/users/me")  # connect (and authenticate) before the start
            barrier.wait(timeout=60)
            response = send(http)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(responses) == RACERS, "a racer did not finish"
    return responses


def assert_one_winner(responses: list[httpx.Response], *, name: str) -> None:
    statuses = Counter(response.status_code for response in responses)
    assert statuses == Counter({201: 1, 409: RACERS - 1}), [(r.status_code, r.text[:200]) for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert name in response.json()["detail"], response.text


def test_concurrent_class_creations(stack: RunningStack) -> None:
    owner = stack.new_user()
    dataset = owner.http.post("/datasets", json={"name": "Racing classes"}).json()["id"]
    name = f"cat-{uuid.uuid4().hex[:6]}"
    responses = race(
        stack,
        owner.http.headers["Authorization"],
        lambda http: http.post(f"/datasets/{dataset}/classes", json={"name": name}),
    )
    assert_one_winner(responses, name=name)
    classes = owner.http.get(f"/datasets/{dataset}/classes").json()
    assert [c["name"] for c in classes] == [name]
    # the dataset still works after the race: another class, at the next position
    later = owner.http.post(f"/datasets/{dataset}/classes", json={"name": "dog"})
    assert later.status_code == 201 and later.json()["position"] == 1, later.text


def test_concurrent_resource_creations(stack: RunningStack) -> None:
    owner = stack.new_user()
    name = f"race-{uuid.uuid4().hex[:8]}"
    spec = {"name": name, "kind": "segmenter.sam", "title": "Racing"}
    responses = race(stack, owner.http.headers["Authorization"], lambda http: http.post("/resources", json=spec))
    assert_one_winner(responses, name=name)


def test_concurrent_group_creations(stack: RunningStack) -> None:
    owner = stack.new_user()
    name = f"race-{uuid.uuid4().hex[:8]}"
    responses = race(stack, owner.http.headers["Authorization"], lambda http: http.post("/groups", json={"name": name}))
    assert_one_winner(responses, name=name)


def test_concurrent_sign_ups(stack: RunningStack) -> None:
    name = f"racer-{uuid.uuid4().hex[:8]}"
    body = {"username": name, "password": "correct horse battery"}
    responses = race(stack, "", lambda http: http.post("/users", json=body))
    assert_one_winner(responses, name=name)


def test_concurrent_member_additions(stack: RunningStack) -> None:
    """Adding the same member ten times at once: one membership, and no 500 (an add is idempotent: 200)."""
    owner = stack.new_user()
    member = stack.new_user()
    group = f"race-{uuid.uuid4().hex[:8]}"
    assert owner.http.post("/groups", json={"name": group}).status_code == 201
    body = {"username": member.username, "role": "member"}
    responses = race(
        stack, owner.http.headers["Authorization"], lambda http: http.post(f"/groups/{group}/members", json=body)
    )
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {200, 409} and statuses[200] >= 1, [(r.status_code, r.text[:200]) for r in responses]
    members = owner.http.get(f"/groups/{group}").json()["members"]
    assert [m["username"] for m in members].count(member.username) == 1
