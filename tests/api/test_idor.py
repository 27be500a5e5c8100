"""IDOR: a second user tries every id-bearing route on the first user's private things and gets 404/403.

The routes come from the running app's OpenAPI, so a new route with a path parameter fails
`test_every_id_bearing_route_is_refused_to_a_stranger` until it is given a case here (or is listed in
PUBLIC with the reason a stranger may call it). Presigned URLs are checked to expire.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import ZIP_STORED as STORED

import httpx
from sqlmodel import select

from commons.db import session_scope
from commons.store import ObjectStore, keys
from launcher.client import CommonsClient
from registry.models import User, Webhook
from registry.webhooks import outbox
from registry.webhooks.signing import new_secret
from registry.webhooks.vocabulary import PING
from resources.sam.model import TINY_CONFIG
from tests.api.conftest import AUTO_PARAMS, Published, publish
from tests.conftest import RunningStack
from tests.factories import zip_bytes
from tests.registry.test_datasets import photo

API = "/api/v1"
REFUSED = {403, 404}
# (method, path) → why a stranger may call it with someone else's ids. Empty: every id-bearing route is guarded.
PUBLIC: dict[tuple[str, str], str] = {}


@dataclass
class Owned:
    """User A's things; `ids` fills the path parameters of the routes."""

    owner: CommonsClient
    ids: dict[str, str]
    resource_grant: str
    dataset_grant: str
    public_resource: str
    token: str


def body_for(method: str, path: str, *, stranger: str, weights: Path) -> dict[str, Any]:
    """A valid request body, so that validation cannot answer before the permission check does."""
    route = (method, path.removeprefix(API))
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("PATCH", "/resources/{name}"): {"json": {"title": "taken over"}},
        ("POST", "/resources/{name}/versions"): {
            "files": [("files", (weights.name, weights.read_bytes(), "application/octet-stream"))],
            "data": {"config": json.dumps(TINY_CONFIG)},
        },
        ("POST", "/resources/{name}/grants"): {"json": {"username": stranger, "permission": "modify"}},
        ("POST", "/resources/{name}/access-requests"): {"json": {"permission": "use", "message": "let me in"}},
        ("PATCH", "/datasets/{dataset_id}"): {"json": {"name": "taken over", "visibility": "public"}},
        ("POST", "/datasets/{dataset_id}/classes"): {"json": {"name": "intruder"}},
        ("PATCH", "/datasets/{dataset_id}/classes/{class_id}"): {"json": {"name": "renamed"}},
        ("POST", "/datasets/{dataset_id}/items"): {"files": [("files", ("x.png", photo(7), "image/png"))]},
        ("PATCH", "/datasets/{dataset_id}/items/{item_id}"): {"json": {"class": None}},
        ("POST", "/datasets/{dataset_id}/import"): {
            "files": {"file": ("a.zip", zip_bytes({"intruder/x.png": photo(8)}, compression=STORED), "application/zip")}
        },
        ("POST", "/datasets/{dataset_id}/grants"): {"json": {"username": stranger, "permission": "modify"}},
        ("POST", "/datasets/{dataset_id}/augment"): {"json": {"operations": [{"op": "flip"}]}},
        ("POST", "/groups/{group_name}/members"): {"json": {"username": stranger, "role": "maintainer"}},
        ("PUT", "/resources/{name}/versions/{version}/card"): {"json": {"markdown": "# taken over"}},
        ("POST", "/datasets/{dataset_id}/access-requests"): {"json": {"permission": "use", "message": "let me in"}},
        ("POST", "/label-studio/{owner}/{name}/{version}/setup"): {"json": {"project": "1"}},
        ("POST", "/label-studio/{owner}/{name}/{version}/predict"): {
            "json": {"tasks": [{"id": 1, "data": {"image": "data:image/png;base64,"}}], "label_config": "<View/>"}
        },
        ("POST", "/label-studio/{owner}/{name}/{version}/webhook"): {"json": {"action": "ANNOTATION_CREATED"}},
    }
    return bodies.get(route, {})


def own_webhook(stack: RunningStack, username: str) -> tuple[str, str]:
    """A webhook of `username` and a delivery of it, written as the registry does, to a loopback URL that the
    API's sender refuses (so nothing reaches the network)."""
    url = "http://127.0.0.1:9/idor"
    with session_scope(stack.settings.resolved_database_url) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        hook = Webhook(owner_id=user.id, url=url, events=["version.created"], secret=new_secret())
        session.add(hook)
        session.flush()
        delivery = outbox.enqueue(session, owner_id=user.id, url=url, event=PING, data={}, webhook_id=hook.id)
        return hook.id, delivery.id


def create_owned(stack: RunningStack, published: Published, coffee_png: bytes) -> Owned:
    owner, third = published.provider, stack.new_user()
    upload = owner.upload("coffee.png", coffee_png)
    task = owner.submit(
        resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS, idempotency_key="idor-key"
    )
    dataset = owner.http.post("/datasets", json={"name": "Private pets", "classes": ["cat"]}).json()
    item = owner.http.post(
        f"/datasets/{dataset['id']}/items", files=[("files", ("c.png", photo(1), "image/png"))], data={"class": "cat"}
    ).json()[0]
    class_id = owner.http.get(f"/datasets/{dataset['id']}/classes").json()[0]["id"]
    resource_grant = owner.grant(published.name, third.username, "use")["id"]
    dataset_grant = owner.http.post(
        f"/datasets/{dataset['id']}/grants", json={"username": third.username, "permission": "use"}
    ).json()["id"]
    token = owner.http.post("/users/me/tokens", json={"name": "lab laptop"}).json()
    public = f"open-{uuid.uuid4().hex[:8]}"
    owner.create_resource(name=public, kind="segmenter.sam", title="Open", visibility="public")
    request = third.http.post(f"/resources/{public}/access-requests", json={"permission": "modify", "message": "hi"})
    assert request.status_code == 201, request.text
    done = owner.wait(task["id"])
    assert done["status"] == "succeeded", done["error"]
    group = f"lab-{uuid.uuid4().hex[:8]}"
    assert owner.http.post("/groups", json={"name": group}).status_code == 201
    added = owner.http.post(f"/groups/{group}/members", json={"username": third.username})
    assert added.status_code == 200, added.text
    file_name = owner.http.get(f"/resources/{published.name}/versions/1").json()["files"][0]["name"]
    webhook_id, delivery_id = own_webhook(stack, owner.username)
    told = owner.http.get("/notifications").json()  # the finished task, the request: messages of A's
    assert told, "the owner's inbox has messages"
    return Owned(
        owner=owner,
        ids={
            "name": published.name,
            "owner": owner.username,
            "version": "1",
            "task_id": task["id"],
            "dataset_id": dataset["id"],
            "class_id": class_id,
            "item_id": item["id"],
            "token_id": token["id"],
            "request_id": request.json()["id"],
            "upload_id": upload["id"],
            "group_name": group,
            "username": third.username,
            "file_name": file_name,
            "notification_id": told[0]["id"],
            "webhook_id": webhook_id,
            "delivery_id": delivery_id,
        },
        resource_grant=resource_grant,
        dataset_grant=dataset_grant,
        public_resource=public,
        token=token["token"],
    )


def strip_volatile(value: Any) -> Any:
    """Presigned URLs carry their signing time; everything else must compare equal."""
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in ("url", "manifest_url", "last_used_at")}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def snapshot(stack: RunningStack, owned: Owned) -> dict[str, Any]:
    ids, http = owned.ids, owned.owner.http
    paths = [
        f"/resources/{ids['name']}",
        f"/resources/{ids['name']}/versions",
        f"/resources/{ids['name']}/grants",
        f"/resources/{owned.public_resource}/access-requests",
        f"/datasets/{ids['dataset_id']}",
        f"/datasets/{ids['dataset_id']}/classes",
        f"/datasets/{ids['dataset_id']}/items",
        f"/datasets/{ids['dataset_id']}/grants",
        f"/tasks/{ids['task_id']}",
        "/tasks",
        "/users/me/tokens",
        f"/groups/{ids['group_name']}",
        "/notifications",
    ]
    views = {}
    for path in paths:
        response = http.get(path)
        assert response.status_code == 200, (path, response.text)
        views[path] = strip_volatile(response.json())
    store = ObjectStore.from_settings(stack.settings)
    for prefix in (keys.dataset_prefix(ids["dataset_id"]), keys.task_prefix(ids["task_id"])):
        views[prefix] = sorted(store.list_keys(prefix))
    return views


def id_bearing_routes(stack: RunningStack) -> set[tuple[str, str]]:
    schema = httpx.get(f"{stack.settings.api_url}/openapi.json", timeout=30).json()
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if "{" in path
        for method in operations
        if method in ("get", "put", "patch", "post", "delete")
    }


def attempts(route: tuple[str, str], owned: Owned, mine: dict[str, str]) -> list[dict[str, str]]:
    """Path parameters to try: A's ids; on nested routes also B's own parent with A's child id (the classic
    IDOR); on access-request decisions also A's public resource, which B can see but does not own."""
    _, path = route
    grant = owned.dataset_grant if path.startswith(f"{API}/datasets") else owned.resource_grant
    theirs = {**owned.ids, "grant_id": grant}
    tries = [theirs]
    if path.count("{") > 1:
        tries.append({**theirs, "name": mine["name"], "dataset_id": mine["dataset_id"]})
    if "{request_id}" in path:
        tries.append({**theirs, "name": owned.public_resource})
    return tries


def test_every_id_bearing_route_is_refused_to_a_stranger(
    stack: RunningStack, published: Published, coffee_png: bytes, tiny_weights: Path
) -> None:
    owned = create_owned(stack, published, coffee_png)
    stranger = stack.new_user()
    mine_resource = f"mine-{uuid.uuid4().hex[:8]}"
    stranger.create_resource(name=mine_resource, kind="segmenter.sam", title="Mine", visibility="private")
    mine_dataset = stranger.http.post("/datasets", json={"name": "Mine", "classes": ["dog"]}).json()["id"]
    mine = {"name": mine_resource, "dataset_id": mine_dataset}
    before = snapshot(stack, owned)

    routes = id_bearing_routes(stack)
    assert routes, "the OpenAPI document lists routes with path parameters"
    tried: dict[tuple[str, str], list[str]] = {}
    wrong: list[str] = []
    for route in sorted(routes):
        if route in PUBLIC:
            continue
        method, path = route
        for params in attempts(route, owned, mine):
            url = path.removeprefix(API).format(**params)
            body = body_for(method, path, stranger=stranger.username, weights=tiny_weights)
            with stranger.http.stream(method, url, timeout=30, **body) as response:  # an event stream stays open
                status = response.status_code
            tried.setdefault(route, []).append(f"{url} → {status}")
            if status not in REFUSED:
                wrong.append(f"{method} {url} answered {status}")
    missing = routes - set(tried) - set(PUBLIC)
    assert not missing, f"id-bearing routes neither tried nor listed as PUBLIC: {sorted(missing)}"
    assert not (set(PUBLIC) - routes), "PUBLIC lists routes the app no longer has"
    assert not wrong, "a stranger reached another user's things:\n" + "\n".join(wrong)

    # ids carried in bodies and headers: A's upload, dataset and idempotency key
    open_sam = publish(stack, tiny_weights, visibility="public")
    open_sam.provider.grant(open_sam.name, "*", "use")
    task = {"resource": open_sam.name, "version": 1, "params": AUTO_PARAMS}
    ids = owned.ids
    body_cases = {
        "A's upload as input": ({**task, "inputs": [ids["upload_id"]]}, {}),
        "A's dataset to evaluate": ({**task, "mode": "evaluate", "dataset": ids["dataset_id"]}, {}),
        "A's private resource": ({**task, "resource": ids["name"], "inputs": [ids["upload_id"]]}, {}),
        "A's idempotency key": (
            {**task, "resource": ids["name"], "inputs": [ids["upload_id"]]},
            {"Idempotency-Key": "idor-key"},
        ),
    }
    for what, (body, headers) in body_cases.items():
        response = stranger.http.post("/tasks", json=body, headers=headers)
        assert response.status_code in REFUSED, (what, response.status_code, response.text)

    assert snapshot(stack, owned) == before, "a refused request changed A's things"
    scripted = stack.client()
    scripted.http.headers["Authorization"] = f"Bearer {owned.token}"
    assert scripted.http.get("/users/me").json()["username"] == owned.owner.username, "A's token still works"
    assert stranger.http.get(f"/resources/{ids['name']}").status_code == 404, "B gained nothing"
    assert ids["dataset_id"] not in {d["id"] for d in stranger.http.get("/datasets").json()}


def test_presigned_urls_expire(stack: RunningStack) -> None:
    store = ObjectStore.from_settings(stack.settings)
    key = keys.task_output(f"expiry-{uuid.uuid4().hex}", "probe.txt")
    store.put_bytes(key=key, data=b"short-lived", content_type="text/plain")
    signed = time.monotonic()
    url = store.presigned_url(key, expires_seconds=2)
    assert "X-Amz-Expires=2&" in url or url.endswith("X-Amz-Expires=2")
    assert httpx.get(url, timeout=10).content == b"short-lived"
    deadline = signed + 15
    while (status := httpx.get(url, timeout=10).status_code) == 200 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert status == 403, "the object store still serves an expired URL"
    assert time.monotonic() - signed >= 1.0, "refused before it expired (X-Amz-Date is in whole seconds)"
    assert httpx.get(store.presigned_url(key, expires_seconds=60), timeout=10).status_code == 200

    owner = stack.new_user()  # the API signs with the configured expiry
    dataset = owner.http.post("/datasets", json={"name": "Expiry"}).json()
    added = owner.http.post(f"/datasets/{dataset['id']}/items", files=[("files", ("a.png", photo(2), "image/png"))])
    assert f"X-Amz-Expires={stack.settings.presign_expiry_seconds}" in added.json()[0]["url"]
