"""Datasets over REST: pagination and filters, relabelling, classes, zip round trip, grants and refused input."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections import defaultdict

import httpx
import pytest

from commons.store import ObjectStore, keys
from launcher.client import CommonsClient
from tests.conftest import RunningStack
from tests.factories import zip_bytes
from tests.registry.test_datasets import photo


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_dataset(client: CommonsClient, **spec: object) -> dict:
    response = client.http.post("/datasets", json={"name": "Pets", **spec})
    assert response.status_code == 201, response.text
    return response.json()


def add(client: CommonsClient, dataset_id: str, files: dict[str, bytes], label: str | None = None) -> httpx.Response:
    data = {"class": label} if label is not None else {}
    return client.http.post(
        f"/datasets/{dataset_id}/items",
        files=[("files", (name, content, "image/png")) for name, content in files.items()],
        data=data,
    )


def items(client: CommonsClient, dataset_id: str, **params: str) -> list[dict]:
    response = client.http.get(f"/datasets/{dataset_id}/items", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()


def assert_nothing_stored(stack: RunningStack, client: CommonsClient, dataset_id: str) -> None:
    dataset = client.http.get(f"/datasets/{dataset_id}").json()
    assert dataset["item_count"] == 0 and dataset["classes"] == []
    store = ObjectStore.from_settings(stack.settings)
    assert list(store.list_keys(keys.dataset_prefix(dataset_id))) == []


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """One entry of 200 MB of zeros, about 200 kB compressed."""
    buffer = io.BytesIO()
    zeros = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive, archive.open("cat/a.png", "w") as f:
        for _ in range(200):
            f.write(zeros)
    return buffer.getvalue()


def test_items_pages_filters_labels_and_classes(stack: RunningStack) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner, classes=["cat", "dog"])
    assert dataset["visibility"] == "private" and dataset["classes"] == ["cat", "dog"]
    base = f"/datasets/{dataset['id']}"
    labelled = add(owner, dataset["id"], {f"c{i}.png": photo(i) for i in range(15)}, label="cat")
    assert labelled.status_code == 201, labelled.text
    assert {item["class"] for item in labelled.json()} == {"cat"}
    assert add(owner, dataset["id"], {f"u{i}.png": photo(i) for i in range(15, 25)}).status_code == 201

    pages = [owner.http.get(f"{base}/items", params={"limit": 10, "page": n}).json() for n in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [10, 10, 5, 0]
    assert len({item["id"] for page in pages for item in page}) == 25
    assert len(items(owner, dataset["id"], **{"class": "cat"})) == 15
    assert len(items(owner, dataset["id"], labelled="true")) == 15
    unlabelled = items(owner, dataset["id"], labelled="false")
    assert len(unlabelled) == 10 and all(item["class"] is None for item in unlabelled)
    assert owner.http.get(f"{base}/items", params={"class": "bird"}).status_code == 422

    digest = owner.http.get(base).json()["digest"]
    again = add(owner, dataset["id"], {"same.png": photo(0)})
    assert again.status_code == 201 and again.json()[0]["id"] == labelled.json()[0]["id"]
    assert again.json()[0]["class"] == "cat", "a duplicate without a class keeps its label"
    assert owner.http.get(base).json()["digest"] == digest and owner.http.get(base).json()["item_count"] == 25

    item = unlabelled[0]
    relabelled = owner.http.patch(f"{base}/items/{item['id']}", json={"class": "dog"})
    assert relabelled.status_code == 200 and relabelled.json()["class"] == "dog"
    assert owner.http.get(base).json()["digest"] != digest
    assert [i["id"] for i in items(owner, dataset["id"], **{"class": "dog"})] == [item["id"]]
    assert owner.http.patch(f"{base}/items/{item['id']}", json={"class": None}).json()["class"] is None
    assert owner.http.get(base).json()["digest"] == digest
    assert owner.http.patch(f"{base}/items/{item['id']}", json={"class": "bird"}).status_code == 422

    fetched = owner.http.get(f"{base}/items/{item['id']}").json()
    assert (fetched["width"], fetched["height"], fetched["content_type"]) == (32, 32, "image/png")
    assert sha(httpx.get(fetched["url"]).content) == fetched["sha256"] == item["sha256"]

    classes = owner.http.get(f"{base}/classes").json()
    assert [(c["name"], c["position"], c["item_count"]) for c in classes] == [("cat", 0, 15), ("dog", 1, 0)]
    renamed = owner.http.patch(f"{base}/classes/{classes[0]['id']}", json={"name": "kitten"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "kitten"
    assert owner.http.patch(f"{base}/classes/{classes[0]['id']}", json={"name": "dog"}).status_code == 409
    assert owner.http.post(f"{base}/classes", json={"name": "../x"}).status_code == 422
    assert len(items(owner, dataset["id"], **{"class": "kitten"})) == 15
    assert owner.http.delete(f"{base}/classes/{classes[0]['id']}").status_code == 204
    assert len(items(owner, dataset["id"], labelled="false")) == 25
    assert owner.http.get(base).json()["classes"] == ["dog"]

    assert owner.http.delete(f"{base}/items/{item['id']}").status_code == 204
    assert owner.http.get(f"{base}/items/{item['id']}").status_code == 404
    assert owner.http.delete(base).status_code == 204
    assert owner.http.get(base).status_code == 404


def test_zip_import_export_round_trip(stack: RunningStack) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner)
    entries = {"cat/a.png": photo(0), "cat/b.png": photo(1), "cat/c.png": photo(2), "dog/d.png": photo(3)}
    entries |= {"dog/e.png": photo(4), "loose.png": photo(5), "__MACOSX/._a.png": b"junk", "cat/.DS_Store": b"x"}
    response = owner.http.post(f"/datasets/{dataset['id']}/import", files={"file": ("pets.zip", zip_bytes(entries))})
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert (outcome["added"], outcome["existing"], outcome["classes_created"]) == (6, 0, ["cat", "dog"])
    assert outcome["dataset"]["labelled_count"] == 5

    exported = owner.http.get(f"/datasets/{dataset['id']}/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    expected: dict[str, set[str]] = {"cat": {sha(photo(i)) for i in range(3)}, "dog": {sha(photo(i)) for i in (3, 4)}}
    expected["_unlabelled"] = {sha(photo(5))}
    found: dict[str, set[str]] = defaultdict(set)
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        for name in archive.namelist():
            if not name.endswith("/"):
                folder, _ = name.split("/")
                found[folder].add(sha(archive.read(name)))
    assert found == expected

    copy = new_dataset(owner, name="Copy")
    reimport = owner.http.post(f"/datasets/{copy['id']}/import", files={"file": ("x.zip", exported.content)})
    assert reimport.status_code == 200, reimport.text
    assert reimport.json()["dataset"]["digest"] == owner.http.get(f"/datasets/{dataset['id']}").json()["digest"]


def test_grants_use_and_modify(stack: RunningStack) -> None:
    owner, reader = stack.new_user(), stack.new_user()
    dataset = new_dataset(owner, classes=["cat"])
    base = f"/datasets/{dataset['id']}"
    assert add(owner, dataset["id"], {"a.png": photo(0)}, label="cat").status_code == 201
    for path in (base, f"{base}/items", f"{base}/classes", f"{base}/export"):
        assert reader.http.get(path).status_code == 404, path
        assert stack.client().http.get(path).status_code == 404, path
    assert dataset["id"] not in {d["id"] for d in reader.http.get("/datasets").json()}

    grant = owner.http.post(f"{base}/grants", json={"username": reader.username, "permission": "use"})
    assert grant.status_code == 201, grant.text
    assert reader.http.get(base).json()["permissions"] == ["use"]
    assert len(reader.http.get(f"{base}/items").json()) == 1
    assert reader.http.get(f"{base}/export").status_code == 200
    assert dataset["id"] in {d["id"] for d in reader.http.get("/datasets").json()}
    assert add(reader, dataset["id"], {"b.png": photo(1)}).status_code == 403
    assert reader.http.patch(base, json={"description": "mine"}).status_code == 403
    assert reader.http.post(f"{base}/classes", json={"name": "dog"}).status_code == 403
    assert reader.http.get(f"{base}/grants").status_code == 403

    modify = owner.http.post(f"{base}/grants", json={"username": reader.username, "permission": "modify"}).json()
    assert add(reader, dataset["id"], {"b.png": photo(1)}, label="cat").status_code == 201
    assert reader.http.patch(base, json={"description": "better"}).json()["description"] == "better"
    assert reader.http.post(f"{base}/grants", json={"username": "*", "permission": "use"}).status_code == 403
    assert reader.http.delete(base).status_code == 403
    grants = owner.http.get(f"{base}/grants").json()
    assert {(g["username"], g["permission"]) for g in grants} == {(reader.username, "use"), (reader.username, "modify")}
    assert owner.http.delete(f"{base}/grants/{modify['id']}").status_code == 204
    assert add(reader, dataset["id"], {"c.png": photo(2)}).status_code == 403


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"this is not a photo at all", "notes.txt is not a png"),
        ("empty.png", b"", "empty.png is empty"),
        ("cut.png", photo(0, size=64)[:-60], "cut.png is truncated"),
    ],
)
def test_bad_files_are_skipped_and_named(stack: RunningStack, name: str, content: bytes, message: str) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner)
    alone = add(owner, dataset["id"], {name: content})  # nothing to keep: refused, nothing stored
    assert alone.status_code == 422, alone.text
    assert message in alone.json()["detail"].lower()
    assert_nothing_stored(stack, owner, dataset["id"])
    response = add(owner, dataset["id"], {"good.png": photo(0), name: content})  # the good one is kept
    assert response.status_code == 201, response.text
    assert [item["original_name"] for item in response.json()] == ["good.png"]
    assert response.headers["Commons-Rejected-Count"] == "1"


def test_bad_zips_are_refused(stack: RunningStack, zip_bomb: bytes) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner)
    url = f"/datasets/{dataset['id']}/import"
    evil = zip_bytes({"cat/a.png": photo(0), "../evil.png": photo(1)})
    response = owner.http.post(url, files={"file": ("evil.zip", evil)})
    assert response.status_code == 422 and "../evil.png" in response.json()["detail"], response.text
    notes = zip_bytes({"cat/a.png": photo(0), "cat/readme.txt": b"hello"})
    response = owner.http.post(url, files={"file": ("notes.zip", notes)})
    assert response.status_code == 422 and "cat/readme.txt" in response.json()["detail"], response.text
    response = owner.http.post(url, files={"file": ("bomb.zip", zip_bomb)})
    assert response.status_code in (413, 422) and "zip bomb" in response.json()["detail"], response.text
    response = owner.http.post(url, files={"file": ("x.zip", b"not a zip")})
    assert response.status_code == 422 and "not a readable zip" in response.json()["detail"], response.text
    assert_nothing_stored(stack, owner, dataset["id"])
