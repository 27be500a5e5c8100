"""The access-request inbox: GET /access-requests lists requests on the caller's resources, newest first."""

from __future__ import annotations

import uuid

from launcher.client import CommonsClient
from tests.conftest import RunningStack


def public_resource(owner: CommonsClient) -> str:
    name = f"inbox-{uuid.uuid4().hex[:8]}"
    owner.create_resource(name=name, kind="classifier.resnet", title="Inbox test", visibility="public")
    return name


def ask(client: CommonsClient, name: str, permission: str, message: str = "") -> dict:
    response = client.http.post(
        f"/resources/{name}/access-requests", json={"permission": permission, "message": message}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_inbox_lists_requests_on_owned_resources(stack: RunningStack) -> None:
    provider, other_owner = stack.new_user(), stack.new_user()
    alice, bob = stack.new_user(), stack.new_user()
    first, second = public_resource(provider), public_resource(provider)
    elsewhere = public_resource(other_owner)

    older = ask(alice, first, "use", "for a paper")
    newer = ask(bob, second, "modify")
    ask(alice, elsewhere, "use")  # someone else's resource: not in the provider's inbox

    pending = provider.http.get("/access-requests", params={"status": "pending"})
    assert pending.status_code == 200, pending.text
    listed = pending.json()
    assert [item["id"] for item in listed] == [newer["id"], older["id"]]  # newest first
    assert listed[1]["resource"] == first
    assert (listed[1]["requester"], listed[1]["permission"], listed[1]["message"]) == (
        alice.username,
        "use",
        "for a paper",
    )
    assert listed[0]["resource"] == second and listed[0]["requester"] == bob.username

    approved = provider.http.post(f"/resources/{first}/access-requests/{older['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert [r["id"] for r in provider.http.get("/access-requests?status=pending").json()] == [newer["id"]]
    decided = provider.http.get("/access-requests?status=approved").json()
    assert [(r["id"], r["decided_by"]) for r in decided] == [(older["id"], provider.username)]
    assert provider.http.get("/access-requests?status=denied").json() == []
    assert {r["id"] for r in provider.http.get("/access-requests").json()} == {older["id"], newer["id"]}

    # requesters and other owners see only requests on what they own
    assert alice.http.get("/access-requests").json() == []
    assert [r["resource"] for r in other_owner.http.get("/access-requests").json()] == [elsewhere]


def test_inbox_needs_an_account_and_a_known_status(stack: RunningStack) -> None:
    assert stack.client().http.get("/access-requests").status_code == 401
    response = stack.new_user().http.get("/access-requests", params={"status": "maybe"})
    assert response.status_code == 422
