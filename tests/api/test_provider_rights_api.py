"""A provider's promise over REST (issue 14): each way it leaked before is now refused.

A provider shares a private model and a private dataset with `use`; the grantee trains from the model and
augments the dataset. The derivatives stay within the provider's audience (409 on making them public or
granting them beyond it; 404 to strangers and anonymous callers), a `modify` grantee cannot change
visibility, a run-only model's weights are withheld from the grantee's outputs and files, revoking the
grant makes the derivative unusable without deleting it, releasing derivatives frees it, and the provider
sees all of it in the audit trail.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from launcher.client import CommonsClient
from resources.classifier.config import parse_classifier_config
from resources.classifier.resnet.model import build_classifier, save_weights
from tests.api.test_blocks_api import DIGITS, png
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items

pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
TWO_CLASS_CNN: dict[str, Any] = {
    "input_channels": 1,
    "input_size": 8,
    "init_seed": 1,
    "classes": DIGITS[:2],
    "blocks": [
        {"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "ReLU"},
        {"type": "Flatten"},
        {"type": "Linear", "in_features": 256, "out_features": 2},
    ],
}
RESNET: dict[str, Any] = {"arch": "resnet18", "classes": ["cat", "dog"], "input_size": 32}
TRAIN = {"epochs": 1, "batch_size": 4, "lr": 0.01, "val_fraction": 0.25, "seed": 1, "target_accuracy": None}


def username(client: CommonsClient) -> str:
    return str(client.http.get("/users/me").json()["username"])


def small_dataset(client: CommonsClient) -> dict[str, Any]:
    dataset = client.http.post("/datasets", json={"name": "Private digits"}).json()
    for name in DIGITS[:2]:
        client.http.post(f"/datasets/{dataset['id']}/classes", json={"name": name})
    for index, (image, label) in enumerate(digit_items(2, 4, size=8)):
        added = client.http.post(
            f"/datasets/{dataset['id']}/items",
            files={"files": (f"d{index}.png", png(image), "image/png")},
            data={"class": DIGITS[label]},
        )
        assert added.status_code == 201, added.text
    return dict(dataset)


def test_a_use_grant_cannot_be_turned_into_a_copy_for_everyone(stack: RunningStack) -> None:
    provider, grantee, editor, stranger = (stack.new_user() for _ in range(4))
    anonymous = stack.client()
    model = f"private-{uuid.uuid4().hex[:8]}"
    provider.create_resource(name=model, kind="classifier.blocks", title="Private CNN")
    created = provider.http.post(f"/resources/{model}/versions", data={"config": json.dumps(TWO_CLASS_CNN)})
    assert created.status_code == 201, created.text
    data = small_dataset(provider)
    provider.grant(model, username(grantee), "use")
    provider.grant(model, username(editor), "modify")
    shared = provider.http.post(
        f"/datasets/{data['id']}/grants", json={"username": username(grantee), "permission": "use"}
    )
    assert shared.status_code == 201, shared.text

    # `modify` publishes versions, nothing more: visibility and policy are the owner's
    for change in ({"visibility": "public"}, {"derivatives": "open"}, {"download": False}):
        refused = editor.http.patch(f"/resources/{model}", json=change)
        assert refused.status_code == 403 and "only the owner" in refused.json()["detail"], refused.text
    assert editor.http.patch(f"/resources/{model}", json={"title": "Renamed by the editor"}).status_code == 200

    # The grantee trains a copy of their own
    copy = f"{model}-copy"
    task = grantee.submit(
        resource=model, version=1, mode="train", dataset=data["id"], params={**TRAIN, "publish_as": copy}
    )
    done = grantee.wait(task["id"], timeout=600)
    assert done["status"] == "succeeded", done["error"]
    view = grantee.http.get(f"/resources/{copy}").json()
    assert {(s["name"], s["binds"]) for s in view["sources"]} == {(model, True), ("Private digits", True)}
    weights = next(o for o in done["outputs"] if o["name"].endswith(".safetensors"))
    assert weights["url"] is not None and weights["withheld"] is None

    # ... which they cannot make public, nor grant to everyone or to a stranger
    refused = grantee.http.patch(f"/resources/{copy}", json={"visibility": "public"})
    assert refused.status_code == 409, refused.text
    assert f"made from resource {model!r} of {username(provider)}" in refused.json()["detail"]
    assert (
        grantee.http.post(f"/resources/{copy}/grants", json={"username": "*", "permission": "use"}).status_code == 409
    )
    to_stranger = {"username": username(stranger), "permission": "use"}
    assert grantee.http.post(f"/resources/{copy}/grants", json=to_stranger).status_code == 409
    assert stranger.http.get(f"/resources/{copy}").status_code == 404
    assert anonymous.http.get(f"/resources/{copy}").status_code == 404
    assert copy not in {r["name"] for r in stranger.http.get("/resources").json()}

    # Run-only: the provider keeps the files to themself; the grantee's weights are withheld, tasks still run
    files = f"/resources/{copy}/versions/1/files/{weights['name']}"
    assert grantee.http.get(files, follow_redirects=False).status_code == 307
    assert provider.http.patch(f"/resources/{model}", json={"download": False}).status_code == 200
    assert grantee.http.get(files, follow_redirects=False).status_code == 403
    assert grantee.http.get(f"/resources/{model}/versions/1").status_code == 200
    again = grantee.task(task["id"])
    held = next(o for o in again["outputs"] if o["name"] == weights["name"])
    assert held["url"] is None and "run-only" in held["withheld"]
    assert next(o for o in again["outputs"] if o["name"] == "config.json")["url"] is not None
    assert provider.http.patch(f"/resources/{model}", json={"download": True}).status_code == 200

    # Revoking the grant makes the copy unusable for its maker, and deletes nothing
    grant = next(
        g for g in provider.http.get(f"/resources/{model}/grants").json() if g["username"] == username(grantee)
    )
    assert provider.http.delete(f"/resources/{model}/grants/{grant['id']}").status_code == 204
    assert grantee.http.get(f"/resources/{copy}").json()["permissions"] == ["own"]
    blocked = grantee.http.post(
        "/tasks", json={"resource": copy, "version": 1, "mode": "evaluate", "dataset": data["id"]}
    )
    assert blocked.status_code == 403 and "can no longer read" in blocked.json()["detail"], blocked.text
    provider.grant(model, username(grantee), "use")

    # Releasing derivatives frees the copy
    assert provider.http.patch(f"/resources/{model}", json={"derivatives": "open"}).status_code == 200
    still = grantee.http.patch(f"/resources/{copy}", json={"visibility": "public"})
    assert still.status_code == 409 and "Private digits" in still.json()["detail"], "the dataset binds it too"
    assert provider.http.patch(f"/datasets/{data['id']}", json={"derivatives": "open"}).status_code == 200
    assert grantee.http.patch(f"/resources/{copy}", json={"visibility": "public"}).status_code == 200
    assert anonymous.http.get(f"/resources/{copy}").status_code == 200

    # The provider sees who did what on their items
    events = provider.http.get("/audit").json()
    seen = {(e["action"], e["actor"]) for e in events}
    assert ("task.submit", username(grantee)) in seen
    assert {("grant.create", username(provider)), ("grant.revoke", username(provider))} <= seen
    assert ("policy.change", username(provider)) in seen
    assert all(e["address"] == "127.0.0.1" for e in events)
    assert all(e["target_name"] not in (model, "Private digits") for e in grantee.http.get("/audit").json())
    assert anonymous.http.get("/audit").status_code == 401


def test_an_augmented_copy_of_a_private_dataset_stays_private(stack: RunningStack) -> None:
    provider, grantee = stack.new_user(), stack.new_user()
    anonymous = stack.client()
    data = small_dataset(provider)
    shared = provider.http.post(
        f"/datasets/{data['id']}/grants", json={"username": username(grantee), "permission": "use"}
    )
    assert shared.status_code == 201
    task = grantee._check(grantee.http.post(f"/datasets/{data['id']}/augment", json={"operations": [{"op": "flip"}]}))
    done = grantee.wait(task["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    derived = done["result"]["dataset"]
    assert grantee.http.get(f"/datasets/{derived}").json()["sources"][0]["id"] == data["id"]
    refused = grantee.http.patch(f"/datasets/{derived}", json={"visibility": "public"})
    assert refused.status_code == 409 and "Private digits" in refused.json()["detail"], refused.text
    assert (
        grantee.http.post(f"/datasets/{derived}/grants", json={"username": "*", "permission": "use"}).status_code == 409
    )
    assert anonymous.http.get(f"/datasets/{derived}/export").status_code == 404
    assert anonymous.http.get(f"/datasets/{derived}").status_code == 404
    # the source cannot be deleted from under its derivative
    gone = provider.http.delete(f"/datasets/{data['id']}")
    assert gone.status_code == 409 and "are made from dataset 'Private digits'" in gone.json()["detail"], gone.text
    # once the provider releases derivatives, the copy may be shared
    assert provider.http.patch(f"/datasets/{data['id']}", json={"derivatives": "open"}).status_code == 200
    assert grantee.http.patch(f"/datasets/{derived}", json={"visibility": "public"}).status_code == 200
    export = anonymous.http.get(f"/datasets/{derived}/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"


def test_names_live_under_their_owner_over_rest(stack: RunningStack) -> None:
    alice, bob, carol = stack.new_user(), stack.new_user(), stack.new_user()
    name = f"digits-{uuid.uuid4().hex[:6]}"
    for client in (alice, bob):
        made = client.http.post("/resources", json={"name": name, "kind": "classifier.blocks", "title": "Digits"})
        assert made.status_code == 201, made.text  # no 409: another user's (private) name is none of their business
    ref = f"{username(alice)}/{name}"
    assert alice.http.get(f"/resources/{ref}").json()["ref"] == ref
    uploaded = alice.http.post(f"/resources/{ref}/versions", data={"config": json.dumps(TWO_CLASS_CNN)})
    assert uploaded.status_code == 201, uploaded.text
    assert [v["version"] for v in alice.http.get(f"/resources/{ref}/versions").json()] == [1]
    assert alice.http.get(f"/resources/{ref}/versions/latest").json()["version"] == 1
    granted = alice.http.post(f"/resources/{ref}/grants", json={"username": username(carol), "permission": "use"})
    assert granted.status_code == 201, granted.text
    bob.grant(name, username(carol), "use")  # a bare name: bob's own
    assert bob.http.get(f"/resources/{ref}").status_code == 404
    assert bob.http.get(f"/resources/{name}").json()["owner"] == username(bob)
    ambiguous = carol.http.get(f"/resources/{name}")
    assert ambiguous.status_code == 409 and ref in ambiguous.json()["detail"], ambiguous.text
    assert carol.http.get(f"/resources/{ref}").json()["owner"] == username(alice)
    task = carol.http.post("/tasks", json={"resource": ref, "version": 1, "mode": "export", "params": {}})
    assert task.status_code == 422, task.text  # past the access check: the name resolved, the dataset is missing
    page = carol.http.get(f"{stack.settings.api_url}/resources/{ref}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    reserved = alice.http.post("/resources", json={"name": "versions", "kind": "classifier.blocks", "title": "x"})
    assert reserved.status_code == 422


def test_an_edit_that_changes_nothing_gives_no_one_else_the_weights(stack: RunningStack, tmp_path: Path) -> None:
    """The path seen first: `use` on a private ResNet, an edit with scale 1.0 published as one's own — its
    weights are byte-identical to the provider's. They stay within the provider's audience, and a run-only
    provider withholds them even from the editor."""
    provider, grantee = stack.new_user(), stack.new_user()
    model = f"private-resnet-{uuid.uuid4().hex[:6]}"
    provider.create_resource(name=model, kind="classifier.resnet", title="Private ResNet")
    weights = tmp_path / "weights.safetensors"
    save_weights(build_classifier(parse_classifier_config(RESNET), None, device="cpu"), path=weights)
    provider.upload_version(model, files=[weights], config={**RESNET, "checkpoint": weights.name})
    provider.grant(model, username(grantee), "use")
    copy = f"{model}-same"
    edit = {"edit": {"layer": "fc", "op": {"kind": "scale", "factor": 1.0}}, "publish_as": copy}
    done = grantee.wait(grantee.submit(resource=model, version=1, mode="edit", params=edit)["id"], timeout=600)
    assert done["status"] == "succeeded", done["error"]
    published = grantee.http.get(f"/resources/{copy}/versions/1").json()
    assert (
        published["files"][0]["sha256"]
        == provider.http.get(f"/resources/{model}/versions/1").json()["files"][0]["sha256"]
    ), "scale 1.0 changes nothing: the same bytes"
    assert grantee.http.patch(f"/resources/{copy}", json={"visibility": "public"}).status_code == 409
    assert (
        grantee.http.post(f"/resources/{copy}/grants", json={"username": "*", "permission": "use"}).status_code == 409
    )
    assert stack.client().http.get(f"/resources/{copy}/versions/1/files/{weights.name}").status_code == 404
    assert provider.http.patch(f"/resources/{model}", json={"download": False}).status_code == 200
    assert grantee.http.get(f"/resources/{copy}/versions/1/files/{weights.name}").status_code == 403
    held = next(o for o in grantee.task(done["id"])["outputs"] if o["name"] == weights.name)
    assert held["url"] is None and "run-only" in held["withheld"]
