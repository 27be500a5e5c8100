"""Datasets are addressed as owner/slug (their ids keep working): a slug is unique per owner only, so creating
one tells nothing about anyone else's datasets, and a private dataset stays invisible at its address."""

from __future__ import annotations

import uuid

import numpy as np

from launcher.client import CommonsClient
from tests.api.conftest import png_bytes
from tests.conftest import RunningStack


def username(client: CommonsClient) -> str:
    return str(client.http.get("/users/me").json()["username"])


def test_datasets_live_at_owner_slug(stack: RunningStack) -> None:
    alice, bob, carol = stack.new_user(), stack.new_user(), stack.new_user()
    name = f"Handwritten digits {uuid.uuid4().hex[:6]}"
    slug = name.lower().replace(" ", "-")
    first = alice.http.post("/datasets", json={"name": name, "classes": ["0", "1"]})
    second = alice.http.post("/datasets", json={"name": name})
    theirs = bob.http.post("/datasets", json={"name": name, "visibility": "public"})
    assert first.status_code == second.status_code == theirs.status_code == 201, (first.text, second.text)
    assert first.json()["ref"] == f"{username(alice)}/{slug}"
    assert second.json()["slug"] == f"{slug}-2"  # one owner's second dataset of that name
    assert theirs.json()["slug"] == slug  # another owner's namespace: nothing said about alice's
    ref = first.json()["ref"]

    assert alice.http.get(f"/datasets/{ref}").json()["id"] == first.json()["id"]
    assert alice.http.get(f"/datasets/{first.json()['id']}").json()["ref"] == ref  # ids keep working
    assert [c["name"] for c in alice.http.get(f"/datasets/{ref}/classes").json()] == ["0", "1"]
    assert alice.http.post(f"/datasets/{ref}/classes", json={"name": "2"}).status_code == 201
    assert alice.http.get(f"/datasets/{ref}/items").json() == []
    for path in (f"/datasets/{ref}", f"/datasets/{ref}/items", f"/datasets/{ref}/export"):
        assert carol.http.get(path).status_code == 404, path  # private: no different from a missing dataset
    assert carol.http.get(f"/datasets/{theirs.json()['ref']}").status_code == 200
    missing = carol.http.get(f"/datasets/{username(alice)}/no-such-dataset")
    assert missing.status_code == 404 and "GET /api/v1/datasets" in missing.json()["detail"]

    granted = alice.http.post(f"/datasets/{ref}/grants", json={"username": username(carol), "permission": "use"})
    assert granted.status_code == 201, granted.text
    assert carol.http.get(f"/datasets/{ref}").status_code == 200
    renamed = carol.http.patch(f"/datasets/{ref}", json={"slug": "mine-now"})
    assert renamed.status_code == 403  # the address is the owner's

    taken = alice.http.patch(f"/datasets/{ref}", json={"slug": f"{slug}-2"})
    assert taken.status_code == 409 and "choose another slug" in taken.json()["detail"], taken.text
    reserved = alice.http.post("/datasets", json={"name": "x", "slug": "items"})
    assert reserved.status_code == 422, reserved.text
    moved = alice.http.patch(f"/datasets/{ref}", json={"slug": f"digits-{uuid.uuid4().hex[:6]}"})
    assert moved.status_code == 200, moved.text
    new_ref = moved.json()["ref"]
    assert alice.http.get(f"/datasets/{new_ref}").json()["id"] == first.json()["id"]
    assert alice.http.get(f"/datasets/{ref}").status_code == 404  # the old address is free again
    page = carol.http.get(f"{stack.settings.api_url}/datasets/{new_ref}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_tasks_name_a_dataset_by_its_address(stack: RunningStack) -> None:
    """A task may name its dataset as owner/slug; it is stored by id, so a later move does not change it."""
    owner = stack.new_user()
    made = owner.http.post("/datasets", json={"name": f"augment me {uuid.uuid4().hex[:6]}", "classes": ["a"]}).json()
    photo = png_bytes(np.full((16, 16, 3), 200, dtype=np.uint8))
    added = owner.http.post(f"/datasets/{made['ref']}/items", files=[("files", ("a.png", photo, "image/png"))])
    assert added.status_code == 201, added.text
    task = owner.http.post(f"/datasets/{made['ref']}/augment", json={"name": "augmented"})
    assert task.status_code == 202, task.text
    assert task.json()["dataset"] == made["id"]
    assert owner.wait(task.json()["id"], timeout=300)["status"] == "succeeded"
