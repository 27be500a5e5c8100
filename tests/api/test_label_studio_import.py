"""A Label Studio JSON export imported as a dataset over REST on the real stack: the export as Label Studio 1.23
writes it (tasks with `data.image` under /data/upload/…, annotations whose results are `choices`, predictions
and cancelled annotations beside them), with its photos in a zip or as data URLs; refusals (bad JSON, a missing
photo, a zip bomb, a reserved slug, no account) leave nothing stored."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import httpx
import pytest

from launcher.client import CommonsClient
from tests.conftest import RunningStack
from tests.factories import zip_bytes
from tests.registry.test_datasets import photo

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def choices(*names: str, cancelled: bool = False) -> dict[str, Any]:
    """An annotation as Label Studio exports it: one `choices` region (and its bookkeeping fields)."""
    return {
        "id": 1,
        "completed_by": 1,
        "result": [
            {
                "value": {"choices": list(names)},
                "id": "Xk3",
                "from_name": "class",
                "to_name": "image",
                "type": "choices",
                "origin": "manual",
            }
        ],
        "was_cancelled": cancelled,
        "ground_truth": False,
        "created_at": "2025-01-01T00:00:00.000000Z",
        "lead_time": 2.5,
        "prediction": {},
        "result_count": 1,
        "task": 1,
        "project": 1,
    }


def task(number: int, image: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": number,
        "annotations": list(annotations),
        "file_upload": image.rsplit("/", 1)[-1],
        "drafts": [],
        "predictions": [{"result": [{"type": "choices", "value": {"choices": ["predicted-only"]}}], "score": 0.9}],
        "data": {"image": image},
        "meta": {},
        "created_at": "2025-01-01T00:00:00.000000Z",
        "inner_id": number,
        "total_annotations": len(annotations),
        "project": 1,
    }


def post(client: CommonsClient, file_name: str, data: bytes, **form: str) -> httpx.Response:
    return client.http.post(
        "/datasets/label-studio", files={"file": (file_name, data, "application/octet-stream")}, data=form
    )


def own_datasets(client: CommonsClient) -> list[str]:
    listed = client.http.get("/datasets", params={"limit": 500}).json()
    return [d["name"] for d in listed if d["owner"] == client.username]


def test_zip_export_imports_as_a_dataset(stack: RunningStack) -> None:
    owner = stack.new_user()
    export = [
        task(1, "/data/upload/1/0a1b2c3d-cat.png", choices("cat")),
        task(2, "/data/upload/1/9f8e7d6c-dog%20two.png", choices("dog")),
        task(3, "/data/upload/1/11aa22bb-both.png", choices("cat"), choices("dog")),  # two annotators disagree
        task(4, "/data/upload/1/33cc44dd-none.png"),  # not annotated yet
        task(5, "/data/upload/1/55ee66ff-skipped.png", choices("bird", cancelled=True)),  # skipped: not read
        task(6, "/data/upload/1/77aa88bb-again.png", choices("cat")),  # the same photo as task 1
    ]
    files = {
        "export.json": json.dumps(export).encode(),
        "0a1b2c3d-cat.png": photo(1),
        "images/9f8e7d6c-dog two.png": photo(2),
        "11aa22bb-both.png": photo(3),
        "33cc44dd-none.png": photo(4),
        "55ee66ff-skipped.png": photo(5),
        "77aa88bb-again.png": photo(1),
    }
    made = post(owner, "project-1.zip", zip_bytes(files, compression=zipfile.ZIP_STORED), slug="from-ls")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["classes"] == ["cat", "dog"]
    assert (body["added"], body["labelled"], body["mixed"], body["unlabelled"], body["duplicates"]) == (5, 2, 1, 2, 1)
    dataset = body["dataset"]
    assert dataset["name"] == "project-1" and dataset["slug"] == "from-ls"
    items = owner.http.get(f"/datasets/{dataset['id']}/items").json()
    labels = sorted((item.get("class") or "-") for item in items)
    assert labels == ["-", "-", "-", "cat", "dog"], items
    classes = [c["name"] for c in owner.http.get(f"/datasets/{dataset['id']}/classes").json()]
    assert classes == ["cat", "dog"]


def test_data_url_export_imports_as_a_dataset(stack: RunningStack) -> None:
    owner = stack.new_user()

    def data_url(data: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(data).decode()

    export = [task(1, data_url(photo(6)), choices("brick")), task(2, data_url(photo(7)), choices("grass"))]
    made = post(owner, "textures.json", json.dumps(export).encode(), name="Textures")
    assert made.status_code == 201, made.text
    assert made.json()["classes"] == ["brick", "grass"] and made.json()["labelled"] == 2
    assert own_datasets(owner) == ["Textures"]


def test_refusals_leave_nothing(stack: RunningStack) -> None:
    owner = stack.new_user()
    bad_json = post(owner, "export.json", b'[{"data": {"image": ')
    assert bad_json.status_code == 422 and "JSON" in bad_json.json()["detail"]
    not_a_list = post(owner, "export.json", json.dumps({"images": []}).encode())
    assert not_a_list.status_code == 422 and "list" in not_a_list.json()["detail"]
    exported = [task(1, "/data/upload/1/here.png", choices("cat")), task(2, "/data/upload/1/gone.png", choices("dog"))]
    archive = {"export.json": json.dumps(exported).encode(), "here.png": photo(1)}
    missing = post(owner, "p.zip", zip_bytes(archive))
    assert missing.status_code == 422 and "'gone.png'" in missing.json()["detail"], missing.text
    no_zip = post(owner, "export.json", json.dumps(exported).encode())
    assert no_zip.status_code == 422 and "not a data URL" in no_zip.json()["detail"]
    bad_class = [task(1, "/data/upload/1/here.png", choices("a/b"))]
    refused = post(owner, "p.zip", zip_bytes({"export.json": json.dumps(bad_class).encode(), "here.png": photo(1)}))
    assert refused.status_code == 422 and "cannot be a class" in refused.json()["detail"]
    zeros = io.BytesIO()
    with zipfile.ZipFile(zeros, "w", compression=zipfile.ZIP_DEFLATED) as bomb_zip:
        bomb_zip.writestr("export.json", json.dumps([task(1, "/data/upload/1/a.png", choices("cat"))]))
        with bomb_zip.open("a.png", "w") as handle:
            for _ in range(100):
                handle.write(b"\0" * (1024 * 1024))
    bomb = post(owner, "bomb.zip", zeros.getvalue())
    assert bomb.status_code == 422 and "zip bomb" in bomb.json()["detail"]
    slug = post(owner, "p.zip", zip_bytes({"export.json": b"[]"}), slug="label-studio")
    assert slug.status_code == 422 and slug.json()["field"] == "slug"
    anonymous = httpx.post(
        f"{stack.settings.api_url}/api/v1/datasets/label-studio", files={"file": ("a.json", b"[]")}, timeout=30
    )
    assert anonymous.status_code == 401
    assert own_datasets(owner) == [], "a refused import made a dataset"
