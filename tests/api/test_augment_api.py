"""Dataset augmentation over REST: a task makes a derived dataset with every photo five times (original,
rotated, blurred, flipped, flopped), labels carried over, lineage recorded, and a re-run that reproduces it.

Data no one here wrote: scikit-learn's handwritten digits 0 and 1, upscaled to 24x24 PNGs.
"""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from launcher.client import ApiError, CommonsClient
from tests.api.conftest import task_output
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items

pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
CLASSES = ["zero", "one"]


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def small_dataset(client: CommonsClient) -> dict[str, Any]:
    """4 photos of each of two digits, one of them left unlabelled: 8 photos, 7 labelled."""
    dataset = client.http.post("/datasets", json={"name": "Two digits"}).json()
    for name in CLASSES:
        assert client.http.post(f"/datasets/{dataset['id']}/classes", json={"name": name}).status_code == 201
    items = digit_items(2, 4, size=24)
    for index, (image, label) in enumerate(items):
        data = {"class": CLASSES[label]} if index != 3 else {}
        added = client.http.post(
            f"/datasets/{dataset['id']}/items",
            files={"files": (f"digit-{index}.png", png(image), "image/png")},
            data=data,
        )
        assert added.status_code == 201, added.text
    return dict(client.http.get(f"/datasets/{dataset['id']}").json())


def items_of(client: CommonsClient, dataset_id: str) -> list[dict[str, Any]]:
    return list(client.http.get(f"/datasets/{dataset_id}/items", params={"limit": 500}).json())


def test_augment_makes_five_photos_from_one_with_labels_and_lineage(stack: RunningStack) -> None:
    owner = stack.new_user()
    source = small_dataset(owner)
    assert source["item_count"] == 8 and source["labelled_count"] == 7
    task = owner._check(owner.http.post(f"/datasets/{source['id']}/augment", json={"name": "Digits x5"}))
    assert task["mode"] == "augment" and task["resource"] is None and task["version"] is None
    assert task["dataset"] == source["id"] and task["lane"] == "batch"
    final = owner.wait(task["id"], timeout=300)
    assert final["status"] == "succeeded", final["error"]
    assert [step["name"] for step in final["steps"]] == ["init", "augment", "publish"]

    derived_id = final["result"]["dataset"]
    derived = owner.http.get(f"/datasets/{derived_id}").json()
    assert derived["name"] == "Digits x5" and derived["visibility"] == "private"
    assert derived["item_count"] == 5 * source["item_count"] == final["result"]["items"]
    assert derived["labelled_count"] == 5 * source["labelled_count"]
    assert derived["classes"] == source["classes"]
    assert derived["source"] == source["id"]
    derivation = derived["derivation"]
    assert derivation["task"] == task["id"] and derivation["source"]["digest"] == source["digest"]
    assert [op["op"] for op in derivation["operations"]] == ["rotate", "blur", "flip", "flop"]
    assert derived["digest"] == final["result"]["digest"]

    # Every photo's label is carried to its four copies; the flip of a photo is its mirror image.
    summary = task_output(final, "augmentation.json").json()
    assert summary["items"] == 40 and summary["duplicates_skipped"] == 0
    by_source: dict[str, list[dict[str, Any]]] = {}
    for photo in summary["photos"]:
        by_source.setdefault(photo["source_sha256"], []).append(photo)
    assert len(by_source) == 8
    for copies in by_source.values():
        assert len(copies) == 5 and len({c["label"] for c in copies}) == 1
        assert copies[0]["operation"] == "original" and copies[0]["sha256"] == copies[0]["source_sha256"]
    items = {item["sha256"]: item for item in items_of(owner, derived_id)}
    assert set(items) == {photo["sha256"] for photo in summary["photos"]}
    first = next(iter(by_source.values()))
    original = decode(httpx.get(items[first[0]["sha256"]]["url"], timeout=30).content)
    flipped = next(c for c in first if c["operation"].startswith("flipped"))
    flopped = next(c for c in first if c["operation"].startswith("flopped"))
    assert np.array_equal(decode(httpx.get(items[flipped["sha256"]]["url"], timeout=30).content), original[:, ::-1])
    assert np.array_equal(decode(httpx.get(items[flopped["sha256"]]["url"], timeout=30).content), original[::-1])
    assert flipped["name"].endswith(".flip.png")
    assert task_output(final, "preview.png").content.startswith(b"\x89PNG")

    # The manifest names the source snapshot and no resource; a re-run reproduces every photo bit for bit.
    manifest = httpx.get(final["manifest_url"], timeout=30).json()
    assert manifest["resource"] is None and manifest["dataset"]["digest"] == source["digest"]
    again = owner.wait(owner.reproduce(task["id"])["id"], timeout=300)
    assert again["status"] == "succeeded", again["error"]
    report = task_output(again, "reproduction.json").json()
    assert report["pass"] is True and report["digests_match"] is True, report["summary"]
    assert again["result"] is None, "a reproduction makes no second dataset"


def test_augment_with_chosen_operations_and_bad_input(stack: RunningStack) -> None:
    owner = stack.new_user()
    source = small_dataset(owner)
    operations = [{"op": "flip"}, {"op": "rotate", "degrees": 90, "expand": True}]
    task = owner._check(
        owner.http.post(f"/datasets/{source['id']}/augment", json={"operations": operations, "keep_original": False})
    )
    final = owner.wait(task["id"], timeout=300)
    assert final["status"] == "succeeded", final["error"]
    derived = owner.http.get(f"/datasets/{final['result']['dataset']}").json()
    assert derived["item_count"] == 2 * source["item_count"]
    assert derived["name"] == "Two digits (augmented)"
    assert [op["op"] for op in derived["derivation"]["operations"]] == ["flip", "rotate"]
    assert derived["derivation"]["keep_original"] is False

    refusals = [
        ({"operations": [{"op": "rotate", "degrees": 0}]}, "params.operations[0]"),
        ({"operations": [{"op": "spin"}]}, "params.operations[0]"),
        ({"operations": [{"op": "flip"}, {"op": "flip"}]}, "params.operations[1]"),
        ({"operations": []}, "params.operations"),
        ({"colour": "red"}, "params.colour"),
    ]
    for body, field in refusals:
        response = owner.http.post(f"/datasets/{source['id']}/augment", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"].startswith(field), (body, response.json())

    stranger = stack.new_user()
    with pytest.raises(ApiError) as hidden:
        stranger._check(stranger.http.post(f"/datasets/{source['id']}/augment", json={}))
    assert hidden.value.status_code == 404
    empty = owner.http.post("/datasets", json={"name": "Nothing yet"}).json()
    response = owner.http.post(f"/datasets/{empty['id']}/augment", json={})
    assert response.status_code == 422 and "no photos" in response.json()["detail"], response.text
    assert json.loads(response.text)["field"] == "dataset"
