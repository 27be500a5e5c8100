"""A batch upload with bad files in it: they are reported and skipped, the good photos are kept (both backends).

Photos: crops of skimage.data's pictures; the bad files are a text file, a truncated PNG and a PNG whose header
declares more pixels than the deployment allows.
"""

from __future__ import annotations

import io
import uuid

import httpx
from PIL import Image

from launcher.client import CommonsClient
from tests.conftest import RunningStack
from tests.registry.test_datasets import photo

NOTES = b"shopping list: milk, eggs\n"


def too_many_pixels(limit: int) -> bytes:
    """A small 1-bit PNG whose header declares one row more than `limit` pixels allow."""
    width = 1000
    image = Image.new("1", (width, limit // width + 1))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def new_dataset(client: CommonsClient) -> dict:
    response = client.http.post("/datasets", json={"name": f"Batch {uuid.uuid4().hex[:6]}", "classes": ["cat"]})
    assert response.status_code == 201, response.text
    return dict(response.json())


def upload(client: CommonsClient, ref: str, files: list[tuple[str, bytes]], **params: str) -> httpx.Response:
    return client.http.post(
        f"/datasets/{ref}/items",
        files=[("files", (name, data, "image/png")) for name, data in files],
        data={"class": "cat"},
        params=params,
    )


def test_bad_files_are_reported_and_skipped_and_the_rest_kept(stack: RunningStack) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner)
    truncated = photo(3)[:-40]
    files = [
        ("first.png", photo(1)),
        ("notes.txt", NOTES),
        ("broken.png", truncated),
        ("second.png", photo(2)),
        ("huge.png", too_many_pixels(stack.settings.max_image_pixels)),
    ]
    answer = upload(owner, dataset["ref"], files, report="true")
    assert answer.status_code == 201, answer.text
    assert answer.headers["Commons-Rejected-Count"] == "3"
    body = answer.json()
    assert [(item["original_name"], item["class"]) for item in body["items"]] == [
        ("first.png", "cat"),
        ("second.png", "cat"),
    ]
    reasons = {entry["name"]: entry["reason"] for entry in body["rejected"]}
    assert list(reasons) == ["notes.txt", "broken.png", "huge.png"]
    assert reasons["notes.txt"].startswith("notes.txt is not a PNG, JPEG, TIFF, BMP or WEBP image")
    assert "truncated or corrupt" in reasons["broken.png"]
    assert f"the limit is {stack.settings.max_image_pixels} pixels" in reasons["huge.png"]

    listed = owner.http.get(f"/datasets/{dataset['ref']}/items", params={"limit": 50}).json()
    assert sorted(item["original_name"] for item in listed) == ["first.png", "second.png"]
    assert owner.http.get(f"/datasets/{dataset['ref']}").json()["labelled_count"] == 2


def test_without_report_the_answer_is_the_list_with_a_count_of_the_skipped(stack: RunningStack) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner)
    answer = upload(owner, dataset["ref"], [("notes.txt", NOTES), ("good.png", photo(4))])
    assert answer.status_code == 201, answer.text
    assert [item["original_name"] for item in answer.json()] == ["good.png"]
    assert answer.headers["Commons-Rejected-Count"] == "1"

    clean = upload(owner, dataset["ref"], [("other.png", photo(5))])
    assert clean.status_code == 201 and "Commons-Rejected-Count" not in clean.headers
    assert [item["original_name"] for item in clean.json()] == ["other.png"]


def test_a_batch_of_only_bad_files_is_refused_and_stores_nothing(stack: RunningStack) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner)
    alone = upload(owner, dataset["ref"], [("notes.txt", NOTES)])
    assert alone.status_code == 422, alone.text
    assert alone.json()["detail"].startswith("notes.txt is not a PNG, JPEG, TIFF, BMP or WEBP image")

    both = upload(owner, dataset["ref"], [("notes.txt", NOTES), ("empty.png", b"")], report="true")
    assert both.status_code == 422, both.text
    detail = both.json()["detail"]
    assert detail.startswith("none of the 2 files is a photo that can be added")
    assert "notes.txt is not a PNG" in detail and "empty.png is empty" in detail
    assert owner.http.get(f"/datasets/{dataset['ref']}").json()["item_count"] == 0
