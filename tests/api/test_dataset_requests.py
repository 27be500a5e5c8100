"""Access requests on datasets over REST: ask, list, approve (a working grant), deny, duplicates refused,
strangers told nothing, only the owner decides; each step reaches the other side's inbox."""

from __future__ import annotations

from typing import Any

from launcher.client import CommonsClient
from tests.api.test_datasets_api import add, new_dataset
from tests.conftest import RunningStack
from tests.registry.test_datasets import photo


def ask(client: CommonsClient, dataset_id: str, permission: str, **extra: Any) -> Any:
    return client.http.post(f"/datasets/{dataset_id}/access-requests", json={"permission": permission, **extra})


def inbox(client: CommonsClient) -> list[dict[str, Any]]:
    response = client.http.get("/notifications")
    assert response.status_code == 200, response.text
    return list(response.json())


def test_strangers_cannot_see_or_ask_and_only_the_owner_decides(stack: RunningStack) -> None:
    owner, stranger = stack.new_user(), stack.new_user()
    private = new_dataset(owner, name="Secret pets")
    base = f"/datasets/{private['id']}/access-requests"
    refused = ask(stranger, private["id"], "use")
    assert refused.status_code == 404, refused.text
    assert "Secret" not in refused.text
    assert stranger.http.get(base).status_code == 404
    assert stack.client().http.post(base, json={"permission": "use"}).status_code == 401
    assert stack.client().http.get(base).status_code == 401

    public = new_dataset(owner, name="Open pets", visibility="public")
    made = ask(stranger, public["id"], "use", message="for my thesis")
    assert made.status_code == 201, made.text
    request = made.json()
    ref = f"{owner.username}/{public['slug']}"
    assert (request["dataset"], request["ref"], request["requester"]) == ("Open pets", ref, stranger.username)
    assert (request["status"], request["message"], request["group"]) == ("pending", "for my thesis", None)
    for verb in ("approve", "deny"):  # the requester may not decide their own request
        own = stranger.http.post(f"/datasets/{ref}/access-requests/{request['id']}/{verb}")
        assert own.status_code == 403, own.text
    # a request id of another dataset is not this one's
    other = new_dataset(owner, name="Other", visibility="public")
    wrong = owner.http.post(f"/datasets/{other['id']}/access-requests/{request['id']}/approve")
    assert wrong.status_code == 404, wrong.text
    assert "no access request" in wrong.json()["detail"]


def test_approve_gives_working_use_and_everyone_hears(stack: RunningStack) -> None:
    owner, requester, onlooker = stack.new_user(), stack.new_user(), stack.new_user()
    dataset = new_dataset(owner, name="Digits", classes=["cat"], visibility="public")
    assert add(owner, dataset["id"], {"a.png": photo(0)}, label="cat").status_code == 201
    ref = f"{owner.username}/{dataset['slug']}"
    augment = {"operations": [{"op": "flip"}], "name": "Flipped digits"}
    before = requester.http.post(f"/datasets/{ref}/augment", json=augment)
    assert before.status_code == 403, before.text

    request = ask(requester, ref, "use", message="please").json()
    duplicate = ask(requester, ref, "use")
    assert duplicate.status_code == 409, duplicate.text
    assert "already asked" in duplicate.json()["detail"]
    assert ask(onlooker, ref, "modify").status_code == 201

    listed = owner.http.get(f"/datasets/{ref}/access-requests", params={"status": "pending"}).json()
    assert {(r["requester"], r["permission"]) for r in listed} == {
        (requester.username, "use"),
        (onlooker.username, "modify"),
    }
    mine = requester.http.get(f"/datasets/{ref}/access-requests").json()
    assert [r["id"] for r in mine] == [request["id"]]
    asked = [n for n in inbox(owner) if n["kind"] == "access_requested"]
    assert any(requester.username in n["text"] and "please" in n["text"] for n in asked), asked
    assert all(n["link"] == f"/datasets/{ref}" for n in asked)

    approved = owner.http.post(f"/datasets/{ref}/access-requests/{request['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", owner.username)
    again = owner.http.post(f"/datasets/{ref}/access-requests/{request['id']}/deny")
    assert again.status_code == 409 and "already approved" in again.json()["detail"]
    assert requester.http.get(f"/datasets/{ref}").json()["permissions"] == ["use"]
    task = requester.http.post(f"/datasets/{ref}/augment", json=augment)
    assert task.status_code == 202, task.text
    assert requester.wait(task.json()["id"], timeout=300)["status"] == "succeeded"
    told = [n for n in inbox(requester) if n["kind"] == "access_approved"]
    assert len(told) == 1 and owner.username in told[0]["text"] and ref in told[0]["text"], told
    audit = owner.http.get("/audit", params={"target_type": "dataset", "target_id": dataset["id"]}).json()
    assert "request.approve" in {e["action"] for e in audit}


def test_deny_then_ask_again_and_approve_modify_then_revoke(stack: RunningStack) -> None:
    owner, requester = stack.new_user(), stack.new_user()
    dataset = new_dataset(owner, name="Shared pets", classes=["cat"])
    base = f"/datasets/{dataset['id']}"
    share = owner.http.post(f"{base}/grants", json={"username": requester.username, "permission": "use"})
    assert share.status_code == 201, share.text
    first = ask(requester, dataset["id"], "modify", message="I label cats").json()
    assert add(requester, dataset["id"], {"b.png": photo(1)}).status_code == 403

    denied = owner.http.post(f"{base}/access-requests/{first['id']}/deny")
    assert denied.status_code == 200 and denied.json()["status"] == "denied", denied.text
    assert add(requester, dataset["id"], {"b.png": photo(1)}).status_code == 403
    assert [n["kind"] for n in inbox(requester)] == ["access_denied"]

    second = ask(requester, dataset["id"], "modify")  # the first was answered: asking again is fine
    assert second.status_code == 201, second.text
    assert owner.http.post(f"{base}/access-requests/{second.json()['id']}/approve").status_code == 200
    assert add(requester, dataset["id"], {"b.png": photo(1)}, label="cat").status_code == 201
    grants = owner.http.get(f"{base}/grants").json()
    modify = next(g for g in grants if (g["username"], g["permission"]) == (requester.username, "modify"))
    assert owner.http.delete(f"{base}/grants/{modify['id']}").status_code == 204
    assert add(requester, dataset["id"], {"c.png": photo(2)}).status_code == 403
    statuses = [r["status"] for r in owner.http.get(f"{base}/access-requests").json()]
    assert statuses == ["denied", "approved"]


def test_group_requests_and_bad_input(stack: RunningStack) -> None:
    owner, maintainer, member = stack.new_user(), stack.new_user(), stack.new_user()
    dataset = new_dataset(owner, name="Lab pets", visibility="public")
    group = f"lab-{dataset['id'][:6]}"
    assert maintainer.http.post("/groups", json={"name": group}).status_code == 201
    added = maintainer.http.post(f"/groups/{group}/members", json={"username": member.username, "role": "member"})
    assert added.status_code == 200, added.text

    by_member = ask(member, dataset["id"], "use", group=group)
    assert by_member.status_code == 403 and "maintainer" in by_member.json()["detail"]
    made = ask(maintainer, dataset["id"], "use", group=group)
    assert made.status_code == 201 and made.json()["group"] == group, made.text
    assert ask(maintainer, dataset["id"], "use").status_code == 201  # for oneself: another request
    approved = owner.http.post(f"/datasets/{dataset['id']}/access-requests/{made.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert "use" in member.http.get(f"/datasets/{dataset['id']}").json()["permissions"]
    assert (None, group, "use") in {
        (g["username"], g["group"], g["permission"]) for g in owner.http.get(f"/datasets/{dataset['id']}/grants").json()
    }

    bad = ask(member, dataset["id"], "own")
    assert bad.status_code == 422, bad.text
    unknown = owner.http.post(f"/datasets/{dataset['id']}/access-requests/nope/approve")
    assert unknown.status_code == 404 and "no access request 'nope'" in unknown.json()["detail"]


def test_a_dataset_or_group_with_pending_requests_can_still_be_deleted(stack: RunningStack) -> None:
    """Requests go with what they ask about: deleting the dataset, or the group they were asked for, removes them."""
    owner, asker = stack.new_user(), stack.new_user()
    group = asker.http.post("/groups", json={"name": f"lab-{asker.username}"[:60]})
    assert group.status_code == 201, group.text
    for _ in range(2):
        dataset = new_dataset(owner, name="Short-lived", visibility="public")
        made = ask(asker, dataset["id"], "modify")
        assert made.status_code == 201, made.text
        by_group = ask(asker, dataset["id"], "use", group=group.json()["name"])
        assert by_group.status_code == 201, by_group.text
    removed = asker.http.delete(f"/groups/{group.json()['name']}")
    assert removed.status_code == 204, removed.text
    deleted = owner.http.delete(f"/datasets/{dataset['id']}")
    assert deleted.status_code == 204, deleted.text
    assert owner.http.get(f"/datasets/{dataset['id']}").status_code == 404
