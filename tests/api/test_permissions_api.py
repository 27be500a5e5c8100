"""Permissions over REST: private is invisible, use vs. modify, request → approve → run, deny keeps 403."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.client import ApiError
from resources.sam.model import TINY_CONFIG
from tests.api.conftest import AUTO_PARAMS, publish
from tests.conftest import RunningStack


def status_of(call) -> int:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.status_code


def test_private_resource_is_invisible(stack: RunningStack, tiny_weights: Path, coffee_png: bytes) -> None:
    published = publish(stack, tiny_weights, visibility="private")
    stranger = stack.new_user()
    upload = stranger.upload("coffee.png", coffee_png)
    assert stranger.http.get(f"/resources/{published.name}").status_code == 404
    assert stranger.http.get(f"/resources/{published.name}/versions/1").status_code == 404
    assert published.name not in {r["name"] for r in stranger.http.get("/resources").json()}
    assert stack.client().http.get(f"/resources/{published.name}").status_code == 404  # anonymous
    assert (
        status_of(
            lambda: stranger.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)
        )
        == 404
    )
    assert (
        stranger.http.post(
            f"/resources/{published.name}/access-requests", json={"permission": "use", "message": "hi"}
        ).status_code
        == 404
    )

    published.provider.grant(published.name, stranger.username, "use")
    assert stranger.http.get(f"/resources/{published.name}").json()["permissions"] == ["use"]
    task = stranger.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)
    assert task["status"] in ("pending", "scheduled")


def test_use_and_modify_are_enforced(stack: RunningStack, tiny_weights: Path) -> None:
    published = publish(stack, tiny_weights, visibility="public")
    user = stack.new_user()
    published.provider.grant(published.name, user.username, "use")
    assert status_of(lambda: user.upload_version(published.name, files=[tiny_weights], config=TINY_CONFIG)) == 403
    assert (
        user.http.post(
            f"/resources/{published.name}/grants", json={"username": user.username, "permission": "modify"}
        ).status_code
        == 403
    )
    assert user.http.get(f"/resources/{published.name}/grants").status_code == 403
    assert user.http.patch(f"/resources/{published.name}", json={"title": "mine"}).status_code == 403

    published.provider.grant(published.name, user.username, "modify")
    version = user.upload_version(published.name, files=[tiny_weights], config=TINY_CONFIG, parent=1)
    assert version["version"] == 2 and version["parent"] == 1 and version["created_by"] == user.username
    assert user.http.patch(f"/resources/{published.name}", json={"title": "Improved"}).json()["title"] == "Improved"
    assert (
        user.http.post(f"/resources/{published.name}/grants", json={"username": "*", "permission": "use"}).status_code
        == 403
    ), "granting is the owner's"
    grants = published.provider.http.get(f"/resources/{published.name}/grants").json()
    assert {(g["username"], g["permission"]) for g in grants} == {(user.username, "use"), (user.username, "modify")}
    grant_id = next(g["id"] for g in grants if g["permission"] == "modify")
    assert published.provider.http.delete(f"/resources/{published.name}/grants/{grant_id}").status_code == 204
    assert status_of(lambda: user.upload_version(published.name, files=[tiny_weights], config=TINY_CONFIG)) == 403


def test_request_approve_run_and_deny(stack: RunningStack, tiny_weights: Path, coffee_png: bytes) -> None:
    published = publish(stack, tiny_weights, visibility="public")
    asker, refused = stack.new_user(), stack.new_user()
    upload = asker.upload("coffee.png", coffee_png)
    refused_upload = refused.upload("coffee.png", coffee_png)
    assert (
        status_of(lambda: asker.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS))
        == 403
    )

    base = f"/resources/{published.name}/access-requests"
    asked = asker.http.post(base, json={"permission": "use", "message": "for my survey"})
    assert asked.status_code == 201 and asked.json()["status"] == "pending"
    denied = refused.http.post(base, json={"permission": "use", "message": "please"}).json()
    assert asker.http.post(f"{base}/{asked.json()['id']}/approve").status_code == 403, "only the owner decides"
    assert [r["requester"] for r in asker.http.get(base).json()] == [asker.username]
    pending = published.provider.http.get(base, params={"status": "pending"}).json()
    assert {r["requester"] for r in pending} == {asker.username, refused.username}

    approved = published.provider.http.post(f"{base}/{asked.json()['id']}/approve").json()
    assert approved["status"] == "approved" and approved["decided_by"] == published.provider.username
    assert approved["decided_at"] is not None
    task = asker.wait(asker.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)["id"])
    assert task["status"] == "succeeded", task["error"]

    result = published.provider.http.post(f"{base}/{denied['id']}/deny").json()
    assert result["status"] == "denied" and result["decided_by"] == published.provider.username
    assert (
        status_of(
            lambda: refused.submit(
                resource=published.name, version=1, inputs=[refused_upload["id"]], params=AUTO_PARAMS
            )
        )
        == 403
    )
    assert published.provider.http.post(f"{base}/{denied['id']}/approve").status_code == 409
