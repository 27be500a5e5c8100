"""COCO over REST on the real stack: a dataset exported (zip and JSON) loads in pycocotools and imports back as
a new dataset with the same digest; imports are refused whole (a zip bomb, a missing photo) and need an
account; a SAM task's `segments.coco.json` loads with `loadRes` and decodes to its label maps and hard masks."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image
from pycocotools.coco import COCO

from launcher.client import CommonsClient
from tests.api.conftest import AUTO_PARAMS, Published, png_bytes, task_output
from tests.api.test_datasets_api import add, new_dataset
from tests.conftest import RunningStack
from tests.factories import zip_bytes
from tests.registry.test_datasets import photo


def coco_file(document: dict[str, Any] | list[Any], path: Path) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def import_zip(client: CommonsClient, data: bytes, **form: str) -> httpx.Response:
    return client.http.post("/datasets/coco", files={"file": ("pets.zip", data, "application/zip")}, data=form)


def own_datasets(client: CommonsClient) -> list[str]:
    listed = client.http.get("/datasets", params={"limit": 500}).json()
    return [d["name"] for d in listed if d["owner"] == client.username]


def test_export_loads_in_pycocotools_and_imports_back(stack: RunningStack, tmp_path: Path) -> None:
    owner = stack.new_user()
    dataset = new_dataset(owner, classes=["cat", "dog"])
    assert add(owner, dataset["id"], {"a.png": photo(0), "b.png": photo(1)}, "cat").status_code == 201
    assert add(owner, dataset["id"], {"c.png": photo(2)}, "dog").status_code == 201
    assert add(owner, dataset["id"], {"d.png": photo(3)}).status_code == 201
    ref = owner.http.get(f"/datasets/{dataset['id']}").json()["ref"]

    exported = owner.http.get(f"/datasets/{ref}/coco")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        document = json.loads(archive.read("annotations.json"))
        photos = {
            name.removeprefix("images/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith("images/") and name != "images/"
        }
    alone = owner.http.get(f"/datasets/{dataset['id']}/coco", params={"images": "false"})
    assert alone.headers["content-type"] == "application/json" and alone.json() == document

    coco = COCO(coco_file(document, tmp_path / "pets.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cat", "dog"]
    assert (
        sorted(photos)
        == sorted(image["file_name"] for image in coco.dataset["images"])
        == [
            "a.png",
            "b.png",
            "c.png",
            "d.png",
        ]
    )
    for image in coco.dataset["images"]:
        decoded = np.asarray(Image.open(io.BytesIO(photos[image["file_name"]])))
        for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]])):
            mask = coco.annToMask(annotation)
            assert mask.shape == decoded.shape[:2] and mask.all(), "a label covers its whole photo"
    assert len(coco.getAnnIds(catIds=[1])) == 2 and len(coco.getAnnIds(catIds=[2])) == 1

    made = import_zip(owner, exported.content, name="Pets again", visibility="public")
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["added"], body["labelled"], body["mixed"], body["unlisted"]) == (4, 3, 0, 0)
    assert body["classes"] == ["cat", "dog"]
    copy = body["dataset"]
    assert copy["name"] == "Pets again" and copy["visibility"] == "public" and copy["owner"] == owner.username
    assert copy["digest"] == dataset_digest(owner, dataset["id"]), "same classes, photos and labels"
    assert httpx.get(f"{stack.settings.api_url}/api/v1/datasets/{copy['id']}/coco", timeout=30).status_code == 200


def dataset_digest(client: CommonsClient, dataset_id: str) -> str:
    return str(client.http.get(f"/datasets/{dataset_id}").json()["digest"])


def test_rights_and_refusals(stack: RunningStack) -> None:
    owner, stranger = stack.new_user(), stack.new_user()
    private = new_dataset(owner)
    assert stranger.http.get(f"/datasets/{private['id']}/coco").status_code == 404
    anonymous = httpx.post(
        f"{stack.settings.api_url}/api/v1/datasets/coco",
        files={"file": ("a.zip", b"PK", "application/zip")},
        timeout=30,
    )
    assert anonymous.status_code == 401

    zeros = io.BytesIO()
    with zipfile.ZipFile(zeros, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("annotations.json", json.dumps({"images": [{"id": 1, "file_name": "a.png"}]}))
        with archive.open("images/a.png", "w") as handle:
            for _ in range(100):
                handle.write(b"\0" * (1024 * 1024))
    bomb = import_zip(owner, zeros.getvalue(), name="Bomb")
    assert bomb.status_code == 422 and "zip bomb" in bomb.json()["detail"]
    document = {"images": [{"id": 1, "file_name": "gone.png"}], "categories": [], "annotations": []}
    missing = import_zip(owner, zip_bytes({"annotations.json": json.dumps(document).encode()}), name="Missing")
    assert missing.status_code == 422 and "'gone.png'" in missing.json()["detail"]
    bad_slug = import_zip(owner, zip_bytes({}), name="Slug", slug="coco")
    assert bad_slug.status_code == 422 and bad_slug.json()["field"] == "slug"
    assert own_datasets(owner) == [private["name"]], "nothing was made by a refused import"


def test_sam_task_writes_coco_results(
    stack: RunningStack, published: Published, coffee_png: bytes, tmp_path: Path
) -> None:
    client = published.provider
    other = png_bytes(np.asarray(Image.open(io.BytesIO(coffee_png)))[100:300, 200:500])
    uploads = [client.upload("coffee.png", coffee_png), client.upload("crop.png", other)]
    task = client.submit(resource=published.name, version=1, inputs=[u["id"] for u in uploads], params=AUTO_PARAMS)
    done = client.wait(task["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    ground = COCO(coco_file(task_output(done, "images.coco.json").json(), tmp_path / "images.json"))
    results = ground.loadRes(coco_file(task_output(done, "segments.coco.json").json(), tmp_path / "results.json"))
    assert [(i["id"], i["file_name"]) for i in ground.dataset["images"]] == [(1, "coffee.png"), (2, "crop.png")]
    for image_id, stem in ((1, "coffee"), (2, "crop")):
        labels = np.asarray(Image.open(io.BytesIO(task_output(done, f"{stem}/labels.png").content)))
        hard = np.asarray(Image.open(io.BytesIO(task_output(done, f"{stem}/hard.png").content)))
        found = results.loadAnns(results.getAnnIds(imgIds=[image_id]))
        segments = task_output(done, f"{stem}/segments.json").json()["segments"]
        scores = {segment["id"]: segment["predicted_iou"] for segment in segments}
        assert found, f"{stem}: segments"
        painted = np.zeros_like(labels)
        for annotation in found:
            mask = results.annToMask(annotation).astype(bool)
            assert np.array_equal(mask, labels == annotation["segment_id"]), f"{stem} {annotation['segment_id']}"
            assert annotation["score"] == scores[annotation["segment_id"]], "SAM's predicted IoU"
            painted[mask] = annotation["segment_id"]
        assert np.array_equal(painted, labels), f"{stem}: the results together are the label map"
        assert np.array_equal(painted > 0, hard.any(axis=2)), f"{stem}: and cover what hard.png paints"
