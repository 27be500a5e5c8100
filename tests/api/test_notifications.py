"""The in-app inbox over REST: who hears of an access request, of its answer and of a task's end; reading
messages; only one's own."""

from __future__ import annotations

import uuid

from launcher.client import CommonsClient
from tests.api.conftest import AUTO_PARAMS, Published
from tests.conftest import RunningStack


def public_resource(owner: CommonsClient) -> str:
    name = f"notes-{uuid.uuid4().hex[:8]}"
    owner.create_resource(name=name, kind="classifier.resnet", title="Inbox test", visibility="public")
    return name


def inbox(client: CommonsClient, **params: str | int) -> list[dict]:
    response = client.http.get("/notifications", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def unread(client: CommonsClient) -> int:
    response = client.http.get("/notifications/unread-count")
    assert response.status_code == 200, response.text
    return int(response.json()["unread"])


def ask(client: CommonsClient, name: str, permission: str = "use", message: str = "") -> dict:
    response = client.http.post(
        f"/resources/{name}/access-requests", json={"permission": permission, "message": message}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_request_and_its_answers_reach_the_right_inboxes(stack: RunningStack) -> None:
    alice, bob, carol = stack.new_user(), stack.new_user(), stack.new_user()
    name = public_resource(alice)
    ref = f"{alice.username}/{name}"

    first = ask(bob, name, "use", "for my thesis")
    [told] = inbox(alice)
    assert told["kind"] == "access_requested" and told["link"] == "/provide#pending"
    assert told["text"] == f"{bob.username} asks for use of {ref}: “for my thesis”"
    assert told["read_at"] is None and unread(alice) == 1
    assert inbox(bob) == [] and inbox(carol) == []  # the requester and strangers hear nothing of it

    assert alice.http.post(f"/resources/{name}/access-requests/{first['id']}/approve").status_code == 200
    [approved] = inbox(bob)
    assert approved["kind"] == "access_approved" and approved["link"] == f"/resources/{ref}"
    assert approved["text"] == f"{alice.username} approved your request for use of {ref}"

    second = ask(bob, name, "modify")
    assert alice.http.post(f"/resources/{name}/access-requests/{second['id']}/deny").status_code == 200
    newest, older = inbox(bob)  # newest first
    assert newest["kind"] == "access_denied" and older["id"] == approved["id"]
    assert newest["text"] == f"{alice.username} denied your request for modify of {ref}"
    assert unread(bob) == 2 and unread(alice) == 2


def test_reading_messages_and_only_ones_own(stack: RunningStack) -> None:
    alice, bob, carol = stack.new_user(), stack.new_user(), stack.new_user()
    for name in (public_resource(alice), public_resource(alice)):
        ask(bob, name)
    older, newest = reversed(inbox(alice))
    assert [m["id"] for m in inbox(alice, limit=1)] == [newest["id"]]
    assert [m["id"] for m in inbox(alice, before=newest["created_at"])] == [older["id"]]

    assert carol.http.post(f"/notifications/{older['id']}/read").status_code == 404  # another's: not found
    assert carol.http.get("/notifications/unread-count").json() == {"unread": 0}
    assert stack.client().http.get("/notifications").status_code == 401

    read = alice.http.post(f"/notifications/{older['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert [m["id"] for m in inbox(alice, unread="true")] == [newest["id"]] and unread(alice) == 1
    marked = alice.http.post("/notifications/read-all")
    assert marked.status_code == 200 and marked.json() == {"marked": 1}
    assert unread(alice) == 0 and inbox(alice, unread="true") == []
    assert len(inbox(alice)) == 2  # read messages stay listed
    assert alice.http.get("/notifications", params={"limit": 0}).status_code == 422


def test_a_finished_task_tells_its_owner(stack: RunningStack, published: Published, coffee_png: bytes) -> None:
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    task = client.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)
    assert client.wait(task["id"])["status"] == "succeeded"
    ref = f"{client.username}/{published.name}"
    [told] = [m for m in inbox(client) if m["kind"] == "task_finished"]
    assert told["text"] == f"Your infer of {ref} v1 succeeded" and told["link"] == f"/tasks/{task['id']}"

    pending = client.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)
    cancelled = client.http.post(f"/tasks/{pending['id']}/cancel")
    if cancelled.status_code == 202:  # it may have ended already: then its ending was told above
        texts = [m["text"] for m in inbox(client) if m["link"] == f"/tasks/{pending['id']}"]
        assert texts == [f"Your infer of {ref} v1 was cancelled"]
