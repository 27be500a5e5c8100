"""The rights matrix: every route of the running app against `registry.rights.table.RULES`.

One world per backend: an owner, users granted `use` and `modify`, a signed-in stranger, an admin and the
anonymous caller; a private and a public resource (one version each) and dataset (a class and a photo each),
and a task of the owner's. Every route is called by every caller on the private and on the public item, with a
request that passes FastAPI's own validation, so what answers is the access check: denied by the table ⇔ 401,
403 or 404; allowed ⇔ anything else below 500. Where an allowed call would do heavy work (a task, an import,
a version), the body is one the domain rejects after the access check. Objects a call consumes (a grant to
revoke, a request to decide, a dataset, class, item or token to delete) are made afresh once consumed.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from commons.db import session_scope
from launcher.client import CommonsClient
from registry.models import User, Webhook
from registry.notifications import NotificationKind, notify
from registry.rights.table import ROLES, RULES, Rule, allowed
from registry.users import issue_token, password_hash
from registry.webhooks import outbox
from registry.webhooks.signing import new_secret
from registry.webhooks.vocabulary import PING
from resources.sam.model import TINY_CONFIG
from tests.api.conftest import AUTO_PARAMS
from tests.conftest import RunningStack
from tests.registry.test_datasets import photo

API = "/api/v1"
PASSWORD = "correct horse battery"
DENIED = {401, 403, 404}
PARAM = re.compile(r"{(\w+)}")
# (method, path) whose call consumes the object named by the path parameter: made afresh after a success.
CONSUMES: dict[tuple[str, str], str] = {
    ("DELETE", "/users/me/tokens/{token_id}"): "token_id",
    ("DELETE", "/resources/{name}/grants/{grant_id}"): "grant_id",
    ("POST", "/resources/{name}/access-requests/{request_id}/approve"): "request_id",
    ("POST", "/resources/{name}/access-requests/{request_id}/deny"): "request_id",
    ("DELETE", "/datasets/{dataset_id}"): "dataset_id",
    ("DELETE", "/datasets/{dataset_id}/classes/{class_id}"): "class_id",
    ("DELETE", "/datasets/{dataset_id}/items/{item_id}"): "item_id",
    ("DELETE", "/datasets/{dataset_id}/grants/{grant_id}"): "grant_id",
    ("POST", "/datasets/{dataset_id}/access-requests/{request_id}/approve"): "request_id",
    ("POST", "/datasets/{dataset_id}/access-requests/{request_id}/deny"): "request_id",
    ("POST", "/notifications/{notification_id}/read"): "notification_id",
    ("DELETE", "/groups/{group_name}/members/{username}"): "username",
    ("DELETE", "/groups/{group_name}"): "group_name",
    ("DELETE", "/webhooks/{webhook_id}"): "webhook_id",
}
# A webhook or delivery of the caller's own, made in the database to a loopback URL: the API's sender refuses to
# send it (private addresses are off), so the matrix reaches no network.
MATRIX_HOOK = "http://127.0.0.1:9/matrix"


@dataclass
class Caller:
    label: str  # anonymous, stranger, use, modify, owner, admin
    role: str  # its role in ROLES on the world's items
    client: CommonsClient

    @property
    def anonymous(self) -> bool:
        return self.label == "anonymous"


@dataclass
class DatasetIds:
    id: str
    item_id: str
    spare_class_id: str  # renamed by PATCH …/classes/{class_id}


@dataclass
class World:
    owner: CommonsClient
    callers: list[Caller]
    grantee: str  # a user (not a caller) the callers grant rights to
    requester: CommonsClient  # a user (not a caller) whose access requests the callers decide
    resources: dict[bool, str]  # public? → name
    datasets: dict[bool, DatasetIds]
    group: str  # the owner's group: `use` is a member, `modify` a maintainer
    checkpoint: str
    task_id: str
    database_url: str  # to put a message in a caller's inbox (nothing a caller can do sends one to itself)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    fresh: dict[tuple[str, ...], str] = field(default_factory=dict)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    def take(self, key: tuple[str, ...], make: Callable[[], str]) -> str:
        if key not in self.fresh:
            self.fresh[key] = make()
        return self.fresh[key]


def checked(response: httpx.Response, expected: int = 201) -> Any:
    assert response.status_code == expected, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


@functools.cache
def password_digest() -> str:
    return password_hash.hash(PASSWORD)  # argon2 takes about a second on a busy runner: once per session


def account(stack: RunningStack, *, admin: bool = False) -> CommonsClient:
    """A user (an administrator with `admin`), written to the database and signed in with a token the API
    accepts: `stack.new_user` would hash the password twice per user; sign-in and sign-up are in the matrix."""
    name = f"{'admin' if admin else 'user'}-{uuid.uuid4().hex[:10]}"
    with session_scope(stack.settings.resolved_database_url) as session:
        user = User(username=name, password_hash=password_digest(), is_admin=admin)
        session.add(user)
        session.flush()
        token = issue_token(user, secret_key=stack.settings.secret_key, expire_minutes=60)
    client = CommonsClient(stack.settings.api_url, token=token)
    client.username = name
    me = checked(client.http.get("/users/me"), 200)
    assert (me["username"], me["is_admin"]) == (name, admin)
    return client


def grant_rights(world_owner: CommonsClient, path: str, use: str, modify: str) -> None:
    for username, permission in ((use, "use"), (modify, "modify")):
        checked(world_owner.http.post(f"{path}/grants", json={"username": username, "permission": permission}))


def new_dataset(owner: CommonsClient, *, public: bool, use: str, modify: str) -> str:
    body = {"name": "Pets", "classes": ["cat"], "visibility": "public" if public else "private"}
    dataset_id = str(checked(owner.http.post("/datasets", json=body))["id"])
    grant_rights(owner, f"/datasets/{dataset_id}", use, modify)
    return dataset_id


def new_group(owner: CommonsClient, *, member: str, maintainer: str) -> str:
    name = f"group-{uuid.uuid4().hex[:8]}"
    checked(owner.http.post("/groups", json={"name": name}))
    for username, role in ((member, "member"), (maintainer, "maintainer")):
        checked(owner.http.post(f"/groups/{name}/members", json={"username": username, "role": role}), 200)
    return name


def build_world(stack: RunningStack, weights: Path) -> World:
    owner, user, modifier, stranger, grantee, requester = (account(stack) for _ in range(6))
    admin = account(stack, admin=True)
    resources: dict[bool, str] = {}
    datasets: dict[bool, DatasetIds] = {}
    for public in (False, True):
        name = f"matrix-{uuid.uuid4().hex[:8]}"
        owner.create_resource(
            name=name, kind="segmenter.sam", title="Tiny SAM", visibility="public" if public else "private"
        )
        owner.upload_version(name, files=[weights], config=TINY_CONFIG)
        grant_rights(owner, f"/resources/{name}", user.username, modifier.username)
        resources[public] = name
        if not public:  # the requester must see the private resource to ask for more on it
            owner.grant(name, requester.username, "use")

        dataset_id = new_dataset(owner, public=public, use=user.username, modify=modifier.username)
        files = [("files", ("cat.png", photo(int(public)), "image/png"))]
        item = checked(owner.http.post(f"/datasets/{dataset_id}/items", files=files, data={"class": "cat"}))[0]
        spare = checked(owner.http.post(f"/datasets/{dataset_id}/classes", json={"name": "spare"}))
        datasets[public] = DatasetIds(id=dataset_id, item_id=item["id"], spare_class_id=spare["id"])
        if not public:  # likewise for the private dataset
            share = {"username": requester.username, "permission": "use"}
            checked(owner.http.post(f"/datasets/{dataset_id}/grants", json=share))
    request = stranger.http.post(f"/resources/{resources[True]}/access-requests", json={"permission": "modify"})
    checked(request)  # pending, for GET …/access-requests; the matrix's own requests ask for `use`

    # The owner's task: the cheapest one test_idor runs, cancelled at once so that it runs no model to the end.
    upload = owner.upload("p.png", photo(7))
    task = owner.submit(resource=resources[False], version=1, inputs=[upload["id"]], params=AUTO_PARAMS)
    cancelled = owner.http.post(f"/tasks/{task['id']}/cancel")
    assert cancelled.status_code in (202, 409), cancelled.text

    group = new_group(owner, member=user.username, maintainer=modifier.username)

    callers = [
        Caller("anonymous", "none", stack.client()),
        Caller("stranger", "none", stranger),
        Caller("use", "use", user),
        Caller("modify", "modify", modifier),
        Caller("owner", "owner", owner),
        Caller("admin", "admin", admin),
    ]
    assert {c.role for c in callers} == set(ROLES)
    grantee.close()  # only its name is needed
    return World(
        owner=owner,
        callers=callers,
        grantee=grantee.username,
        requester=requester,
        resources=resources,
        datasets=datasets,
        group=group,
        checkpoint=str(TINY_CONFIG["checkpoint"]),
        task_id=task["id"],
        database_url=stack.settings.resolved_database_url,
    )


@pytest.fixture(scope="module")
def world(stack: RunningStack, tiny_weights: Path) -> Iterator[World]:
    built = build_world(stack, tiny_weights)
    yield built
    for caller in built.callers:
        caller.client.close()
    built.requester.close()


# --- path parameters ----------------------------------------------------------------------------------------


def fresh_object(world: World, param: str, rule: Rule, caller: Caller, public: bool) -> str:
    """A new object for a call that consumes it (owned by the world's owner, or by the caller for tokens)."""
    owner = world.owner.http
    visibility = "public" if public else "private"
    if param == "token_id":
        holder = world.owner if caller.anonymous else caller.client
        key: tuple[str, ...] = ("token", caller.label)
        return world.take(
            key, lambda: checked(holder.http.post("/users/me/tokens", json={"name": world.unique("t")}))["id"]
        )
    if param == "notification_id":
        return world.take(("notification", caller.label), lambda: new_notification(world, caller))
    if param == "webhook_id":
        return world.take(("webhook_id", caller.label), lambda: own_webhook(world, caller))
    users = {c.label: c.client.username for c in world.callers}
    if param == "group_name":
        return world.take(("group",), lambda: new_group(world.owner, member=users["use"], maintainer=users["modify"]))
    if param == "username":  # a member to remove: the grantee, (re)added by the owner

        def add_member() -> str:
            body = {"username": world.grantee, "role": "member"}
            checked(owner.post(f"/groups/{world.group}/members", json=body), 200)
            return world.grantee

        return world.take(("member",), add_member)
    if param == "dataset_id":
        return world.take(
            ("dataset", visibility),
            lambda: new_dataset(world.owner, public=public, use=users["use"], modify=users["modify"]),
        )
    dataset = world.datasets[public].id
    if param == "class_id":
        path = f"/datasets/{dataset}/classes"
        return world.take(
            ("class", visibility), lambda: checked(owner.post(path, json={"name": world.unique("c")}))["id"]
        )
    if param == "item_id":

        def add_item() -> str:
            files = [("files", ("x.png", photo(next(world.counter)), "image/png"))]
            made = str(checked(owner.post(f"/datasets/{dataset}/items", files=files))[0]["id"])
            assert made != world.datasets[public].item_id, "a fresh photo is the world's photo"
            return made

        return world.take(("item", visibility), add_item)
    if param == "grant_id":
        on = f"/resources/{world.resources[public]}" if rule.on == "resource" else f"/datasets/{dataset}"
        body = {"username": world.grantee, "permission": "use"}
        return world.take(("grant", rule.on, visibility), lambda: checked(owner.post(f"{on}/grants", json=body))["id"])
    if param == "request_id":
        on = f"/resources/{world.resources[public]}" if rule.on == "resource" else f"/datasets/{dataset}"
        body = {"permission": "modify" if not public else "use", "message": "please"}

        def ask() -> str:
            return str(checked(world.requester.http.post(f"{on}/access-requests", json=body))["id"])

        return world.take(("request", rule.on, visibility), ask)
    raise AssertionError(f"no fresh {param} for {rule.method} {rule.path}")


def new_notification(world: World, caller: Caller) -> str:
    """A message in the caller's inbox (the owner's for an anonymous caller), written as the registry does."""
    username = (world.owner if caller.anonymous else caller.client).username
    with session_scope(world.database_url) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        kind = NotificationKind.TASK_FINISHED
        return notify(session, user_id=user.id, kind=kind, text="Your infer succeeded", link="/tasks/x").id


def own_webhook(world: World, caller: Caller, *, delivery: bool = False) -> str:
    """A webhook of the caller (the owner's for an anonymous caller), or a delivery of it: written as the registry
    does, to a loopback URL that the API's sender refuses."""
    username = (world.owner if caller.anonymous else caller.client).username
    with session_scope(world.database_url) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        hook = Webhook(owner_id=user.id, url=MATRIX_HOOK, events=["version.created"], secret=new_secret())
        session.add(hook)
        session.flush()
        if not delivery:
            return hook.id
        return outbox.enqueue(session, owner_id=user.id, url=MATRIX_HOOK, event=PING, data={}, webhook_id=hook.id).id


def own_upload(world: World, caller: Caller) -> str:
    """A photo uploaded by the caller (by the owner for an anonymous caller)."""
    holder = world.owner if caller.anonymous else caller.client
    files = {"file": ("mine.png", photo(next(world.counter)), "image/png")}
    return str(checked(holder.http.post("/uploads", files=files))["id"])


def path_params(world: World, rule: Rule, caller: Caller, public: bool) -> dict[str, str]:
    consumed = CONSUMES.get((rule.method, rule.path))
    dataset = world.datasets[public]
    stable = {
        "name": world.resources[public],
        "owner": world.owner.username,  # Label Studio backends: /label-studio/{owner}/{name}/{version}
        "ref": f"{world.owner.username}/{world.resources[public]}",  # should resources be addressed owner/name
        "version": "1",
        "file_name": world.checkpoint,
        "dataset_id": dataset.id,
        "class_id": dataset.spare_class_id,
        "item_id": dataset.item_id,
        "task_id": world.task_id,
        "group_name": world.group,
        "username": world.grantee,  # PATCH /users/{username}: the body only enables it (already enabled)
    }
    params = {}
    for name in PARAM.findall(rule.path):
        if name == consumed:
            params[name] = fresh_object(world, name, rule, caller, public)
        elif name == "upload_id":
            params[name] = world.take(("upload", caller.label), functools.partial(own_upload, world, caller))
        elif name in ("webhook_id", "delivery_id"):
            made = functools.partial(own_webhook, world, caller, delivery=name == "delivery_id")
            params[name] = world.take((name, caller.label), made)
        else:
            assert name in stable, f"no value for {{{name}}} of {rule.method} {rule.path}: give the test one"
            params[name] = stable[name]
    return params


def spend(world: World, rule: Rule, caller: Caller, public: bool) -> None:
    """Forget the object a successful call consumed, so the next call gets a new one."""
    consumed = CONSUMES.get((rule.method, rule.path))
    visibility = "public" if public else "private"
    keys = {
        "token_id": ("token", caller.label),
        "dataset_id": ("dataset", visibility),
        "class_id": ("class", visibility),
        "item_id": ("item", visibility),
        "grant_id": ("grant", rule.on, visibility),
        "request_id": ("request", rule.on, visibility),
        "notification_id": ("notification", caller.label),
        "webhook_id": ("webhook_id", caller.label),
        "group_name": ("group",),
        "username": ("member",),
    }
    if consumed is not None:
        world.fresh.pop(keys[consumed], None)
    if (rule.method, rule.path) == ("POST", "/users/me/signout"):  # the caller's session ended: sign in again
        caller.client.sign_in(caller.client.username, PASSWORD)


# --- bodies -------------------------------------------------------------------------------------------------


def request_for(world: World, rule: Rule, caller: Caller, public: bool) -> dict[str, Any]:
    """A request FastAPI's validation accepts; where an allowed call would do heavy work, one the domain refuses
    after its access check (an infer task without inputs, a zip that is not one, an unknown augment op…)."""
    route = (rule.method, rule.path)
    account = world.owner.username if caller.anonymous else caller.client.username
    grant = {"json": {"username": world.grantee, "permission": "modify"}}
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/users"): {"json": {"username": world.unique(f"u{uuid.uuid4().hex[:6]}"), "password": PASSWORD}},
        ("POST", "/auth/token"): {"data": {"username": account, "password": PASSWORD}},
        ("POST", "/users/me/tokens"): {"json": {"name": world.unique("matrix")}},
        # a wrong current password: refused (422) after the access check, so the password stays
        ("POST", "/users/me/password"): {"json": {"current_password": "not it", "new_password": "violet tractor"}},
        ("PATCH", "/users/{username}"): {"json": {"disabled": False}},
        ("POST", "/resources"): {
            "json": {"name": world.unique(f"r{uuid.uuid4().hex[:6]}"), "kind": "segmenter.sam", "title": "Mine"}
        },
        ("PATCH", "/resources/{name}"): {"json": {"title": world.unique("title")}},
        ("POST", "/resources/{name}/versions"): {"data": {"config": "not json"}},
        ("POST", "/resources/{name}/grants"): grant,
        ("POST", "/resources/{name}/access-requests"): {"json": {"permission": "use", "message": "let me in"}},
        ("PUT", "/resources/{name}/versions/{version}/card"): {"json": {"markdown": "# A card\n\nFor tests."}},
        ("POST", "/uploads"): {"files": {"file": ("u.png", photo(5), "image/png")}},
        ("POST", "/tasks"): {
            "json": {"resource": world.resources[public], "version": 1, "mode": "infer", "inputs": []}
        },
        ("POST", "/datasets"): {"json": {"name": "Mine"}},
        ("PATCH", "/datasets/{dataset_id}"): {"json": {"description": world.unique("about")}},
        ("POST", "/datasets/{dataset_id}/classes"): {"json": {"name": world.unique("c")}},
        ("PATCH", "/datasets/{dataset_id}/classes/{class_id}"): {"json": {"name": world.unique("spare")}},
        ("POST", "/datasets/{dataset_id}/items"): {
            "files": [("files", ("n.png", photo(next(world.counter)), "image/png"))]
        },
        ("PATCH", "/datasets/{dataset_id}/items/{item_id}"): {"json": {"class": "cat"}},
        ("POST", "/datasets/{dataset_id}/import"): {
            "files": {"file": ("a.zip", b"this is not a zip", "application/zip")}
        },
        ("POST", "/datasets/coco"): {"files": {"file": ("a.zip", b"this is not a zip", "application/zip")}},
        ("POST", "/datasets/label-studio"): {"files": {"file": ("a.json", b"not JSON", "application/json")}},
        ("POST", "/datasets/{dataset_id}/augment"): {"json": {"operations": [{"op": "no-such-op"}]}},
        ("POST", "/datasets/{dataset_id}/grants"): grant,
        ("POST", "/datasets/{dataset_id}/access-requests"): {"json": {"permission": "use", "message": "let me in"}},
        ("POST", "/groups"): {"json": {"name": f"g-{uuid.uuid4().hex[:8]}"}},
        ("POST", "/groups/{group_name}/members"): {"json": {"username": world.grantee, "role": "member"}},
        ("POST", "/blocks/validate"): {"json": {"input_channels": 1, "input_size": 28, "blocks": []}},
        # a loopback URL: refused (422) after the access check, so no webhook is made
        ("POST", "/webhooks"): {"json": {"url": MATRIX_HOOK, "events": ["version.created"]}},
        # Label Studio's ML backend: no task to predict (422 after the access check), an event to acknowledge
        ("POST", "/label-studio/{owner}/{name}/{version}/setup"): {"json": {"project": "1"}},
        ("POST", "/label-studio/{owner}/{name}/{version}/predict"): {"json": {"tasks": [], "label_config": "<View/>"}},
        ("POST", "/label-studio/{owner}/{name}/{version}/webhook"): {"json": {"action": "ANNOTATION_CREATED"}},
    }
    return bodies.get(route, {})


# --- expectations -------------------------------------------------------------------------------------------


def expected(rule: Rule, caller: Caller, public: bool) -> bool | int:
    """True: allowed; False: denied (401, 403 or 404); an int: exactly that status."""
    if rule.on == "task":
        if caller.role in ("owner", "admin"):
            return True
        return 401 if caller.anonymous else 404
    if rule.need == "anyone":
        return True
    if rule.need in ("signed-in", "self"):
        return 401 if caller.anonymous else True
    if rule.need == "admin":
        return 401 if caller.anonymous else caller.role == "admin"
    return allowed(rule, role=caller.role, public=public, anonymous=caller.anonymous)


def call(client: CommonsClient, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
    with client.http.stream(method, url, timeout=60, **kwargs) as response:  # an event stream stays open
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, "(event stream)"
        response.read()
        return response.status_code, response.text


def verdict(rule: Rule, who: str, where: str, want: bool | int, status: int, body: str) -> str | None:
    """A mismatch line, or None when the answer is the expected one."""
    if status == 422:
        try:
            errors = json.loads(body).get("errors")
        except ValueError:
            errors = None
        if isinstance(errors, list):  # request validation answered: the access check never ran
            return f"{rule.method} {rule.path} {who} {where}: the test's request failed validation: {body[:300]}"
    if isinstance(want, bool):
        ok = status < 500 and (status not in DENIED) == want
        wanted = "allowed" if want else "denied"
    else:
        ok, wanted = status == want, f"{want}"
    if ok:
        return None
    return f"{rule.method} {rule.path} {who} {where}: expected {wanted}, got {status} {body[:300]}"


# --- tests --------------------------------------------------------------------------------------------------


def openapi_routes(stack: RunningStack) -> set[tuple[str, str]]:
    schema = httpx.get(f"{stack.settings.api_url}/openapi.json", timeout=30).json()
    return {
        (method.upper(), path.removeprefix(API))
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "put", "patch", "post", "delete")
    }


def test_every_route_is_in_the_table(stack: RunningStack) -> None:
    routes = openapi_routes(stack)
    assert routes, "the OpenAPI document lists routes"
    keys = [(rule.method, rule.path) for rule in RULES]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    assert not twice, f"routes with more than one rule: {twice}"
    assert not (routes - set(keys)), f"routes without a rule in RULES: {sorted(routes - set(keys))}"
    assert not (set(keys) - routes), f"rules naming no route of the app: {sorted(set(keys) - routes)}"


def test_matrix(world: World) -> None:
    wrong: list[str] = []
    for rule in RULES:
        assert rule.on in ("-", "account", "resource", "dataset", "task", "group"), f"the test knows no {rule.on!r}"
        places = (False, True) if rule.on in ("resource", "dataset") else (None,)
        for public in places:
            where = "-" if public is None else "public" if public else "private"
            for caller in world.callers:
                params = path_params(world, rule, caller, bool(public))
                url = rule.path.format(**params)
                status, body = call(caller.client, rule.method, url, **request_for(world, rule, caller, bool(public)))
                if status < 400:
                    spend(world, rule, caller, bool(public))
                want = expected(rule, caller, bool(public))
                if (line := verdict(rule, caller.label, where, want, status, body)) is not None:
                    wrong.append(line)
    assert not wrong, f"{len(wrong)} answers disagree with the rights table:\n" + "\n".join(wrong)


def test_only_the_owner_changes_visibility(world: World) -> None:
    """`modify` edits an item's text; visibility and the derivatives/download policy are the owner's."""
    owner = world.owner
    by_label = {c.label: c.client for c in world.callers}
    modifier, admin = by_label["modify"], by_label["admin"]
    name = f"vis-{uuid.uuid4().hex[:8]}"
    owner.create_resource(name=name, kind="segmenter.sam", title="Mine")
    owner.grant(name, modifier.username, "modify")
    dataset_id = new_dataset(owner, public=False, use=by_label["use"].username, modify=modifier.username)
    items: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
        "resource": (f"/resources/{name}", {"title": "edited"}, {"derivatives": "open", "download": False}),
        "dataset": (f"/datasets/{dataset_id}", {"name": "edited"}, {"derivatives": "open"}),
    }
    wrong: list[str] = []

    def expect(client: CommonsClient, who: str, path: str, body: dict[str, Any], status: int) -> None:
        got = client.http.patch(path, json=body)
        if got.status_code != status:
            wrong.append(
                f"PATCH {path} {json.dumps(body)} by {who}: expected {status}, got {got.status_code} {got.text}"
            )

    for path, text, policies in items.values():
        expect(modifier, "modify", path, text, 200)
        expect(modifier, "modify", path, {"visibility": "public"}, 403)
        for policy, value in policies.items():
            expect(modifier, "modify", path, {policy: value}, 403)
        seen = owner.http.get(path).json()
        if seen.get("visibility") != "private":
            wrong.append(f"{path}: a refused PATCH by modify made it {seen.get('visibility')}")
        expect(owner, "owner", path, {"visibility": "public"}, 200)
        expect(admin, "admin", path, {"visibility": "private"}, 200)
        for policy, value in policies.items():
            expect(owner, "owner", path, {policy: value}, 200)
    assert not wrong, "visibility and policies are not the owner's alone:\n" + "\n".join(wrong)
