"""Datasets in COCO's format, on SQLite and PostgreSQL: an export loads in pycocotools and imports back to the
same dataset; a third party's COCO zip (polygons, RLE, folders of its own) imports; bad zips are refused whole."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from sqlmodel import Session, col, select

from commons.db import get_engine
from commons.errors import Conflict, InvalidInput, TooLarge
from commons.store import ObjectStore
from registry import datasets as rows
from registry.dataset_classes import class_names
from registry.dataset_schemas import DatasetCreate
from registry.dataset_zip import ZipLimits
from registry.datasets.coco import coco_document, import_coco, write_coco_zip
from registry.models import Dataset, User
from registry.users import create_user
from tests.factories import zip_bytes
from tests.registry.test_datasets import LIMITS, MAX_PIXELS, image, photo


def coco_of(document: dict[str, Any], folder: Path) -> COCO:
    """pycocotools' COCO of `document`, read from a file as users do."""
    path = folder / f"coco-{hashlib.sha256(json.dumps(document).encode()).hexdigest()[:8]}.json"
    path.write_text(json.dumps(document))
    return COCO(str(path))


def imported(session: Session, store: ObjectStore, owner: User, data: bytes, name: str = "Imported") -> Dataset:
    outcome = import_coco(
        session,
        store=store,
        owner=owner,
        spec=DatasetCreate(name=name),
        source=io.BytesIO(data),
        limits=LIMITS,
        max_pixels=MAX_PIXELS,
    )
    return outcome.dataset


def test_export_loads_in_pycocotools_and_imports_back(database_url: str, store: ObjectStore, tmp_path: Path) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        dataset = rows.create_dataset(session, owner=owner, spec=DatasetCreate(name="Pets", classes=["cat", "dog"]))
        rows.add_items(session, store=store, dataset=dataset, images=[image(0), image(1)], label="cat")
        rows.add_items(session, store=store, dataset=dataset, images=[image(2)], label="dog")
        rows.add_items(session, store=store, dataset=dataset, images=[image(3)], label=None)

        target = io.BytesIO()
        write_coco_zip(session, store=store, dataset=dataset, target=target)
        with zipfile.ZipFile(io.BytesIO(target.getvalue())) as archive:
            document = json.loads(archive.read("annotations.json"))
            photos = {
                name: archive.read(name)
                for name in archive.namelist()
                if name.startswith("images/") and name[-1] != "/"
            }
        assert document == coco_document(session, dataset), "the zip's document is the JSON export"
        coco = coco_of(document, tmp_path)
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cat", "dog"]
        assert len(coco.getImgIds()) == 4 and len(photos) == 4
        shas = {hashlib.sha256(data).hexdigest() for data in photos.values()}
        assert shas == {image(index).sha256 for index in range(4)}, "every photo, byte for byte"
        labels = {}
        for entry in coco.loadImgs(coco.getImgIds()):
            assert hashlib.sha256(photos[f"images/{entry['file_name']}"]).hexdigest() == entry["sha256"]
            annotations = coco.loadAnns(coco.getAnnIds(imgIds=[entry["id"]]))
            labels[entry["sha256"]] = [coco.cats[a["category_id"]]["name"] for a in annotations]
            for annotation in annotations:  # a whole-photo annotation: its mask is the photo's full extent
                mask = coco.annToMask(annotation)
                assert mask.shape == (entry["height"], entry["width"]) and mask.all()
                assert annotation["area"] == entry["width"] * entry["height"]
        assert labels == {
            image(0).sha256: ["cat"],
            image(1).sha256: ["cat"],
            image(2).sha256: ["dog"],
            image(3).sha256: [],
        }

        copy = imported(session, store, owner, target.getvalue(), name="Pets again")
        assert copy.id != dataset.id and copy.slug == "pets-again"
        assert rows.dataset_digest(session, copy) == rows.dataset_digest(session, dataset), (
            "same classes, photos, labels"
        )


def third_party_zip() -> bytes:
    """A COCO zip as an annotation tool writes it: its own folder, polygons and RLE, ids not from 1."""
    height = width = 32
    square = np.zeros((height, width), dtype=np.uint8, order="F")
    square[4:20, 4:20] = 1
    rle = mask_utils.encode(square)
    document = {
        "images": [
            {"id": 10, "file_name": "train/a.png", "width": width, "height": height},
            {"id": 11, "file_name": "b.png", "width": width, "height": height},  # found by its base name
            {"id": 12, "file_name": "train/c.png"},  # width and height are optional
            {"id": 13, "file_name": "train/copy-of-a.png"},
        ],
        "categories": [{"id": 7, "name": "bird"}, {"id": 3, "name": "cat", "supercategory": "animal"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 3, "segmentation": [[4, 4, 20, 4, 20, 20, 4, 20]], "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 3, "bbox": [1, 1, 5, 5]},
            {"id": 3, "image_id": 11, "category_id": 7, "iscrowd": 1,
             "segmentation": {"size": [height, width], "counts": rle["counts"].decode()}},
            {"id": 4, "image_id": 12, "category_id": 3},
            {"id": 5, "image_id": 12, "category_id": 7},
            {"id": 6, "image_id": 13, "category_id": 3},
        ],
    }  # fmt: skip
    return zip_bytes(
        {
            "annotations/instances_default.json": json.dumps(document).encode(),
            "train/a.png": photo(0),
            "elsewhere/b.png": photo(1),
            "train/c.png": photo(2),
            "train/copy-of-a.png": photo(0),
            "train/not-listed.png": photo(3),
            "__MACOSX/._a.png": b"resource fork",
        }
    )


def test_third_party_zip(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        outcome = import_coco(
            session,
            store=store,
            owner=owner,
            spec=DatasetCreate(name="Birds and cats", slug="zoo", visibility="public"),
            source=io.BytesIO(third_party_zip()),
            limits=LIMITS,
            max_pixels=MAX_PIXELS,
        )
        dataset, plan = outcome.dataset, outcome.plan
        assert (dataset.slug, dataset.visibility) == ("zoo", "public")
        assert (len(plan.images), plan.mixed, plan.duplicates, plan.unlisted) == (3, 1, 1, 1)
        found = rows.list_items(session, dataset, label=None, labelled=None, limit=10, offset=0)
        by_sha = {item.sha256: item for item in found}
        names = class_names(session, dataset)
        assert list(names.values()) == ["cat", "bird"], "categories in id order"
        label = {sha: names.get(item.class_id) if item.class_id else None for sha, item in by_sha.items()}
        assert label == {image(0).sha256: "cat", image(1).sha256: "bird", image(2).sha256: None}
        with pytest.raises(Conflict, match="already have a dataset at 'zoo'"):
            import_coco(
                session,
                store=store,
                owner=owner,
                spec=DatasetCreate(name="Again", slug="zoo"),
                source=io.BytesIO(third_party_zip()),
                limits=LIMITS,
                max_pixels=MAX_PIXELS,
            )


def refused_zips() -> list[tuple[dict[str, bytes], type[Exception], str]]:
    def document(**changes: Any) -> bytes:
        base: dict[str, Any] = {
            "images": [{"id": 1, "file_name": "a.png"}],
            "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"image_id": 1, "category_id": 1}],
        }
        return json.dumps({**base, **changes}).encode()

    a = {"images/a.png": photo(0)}

    def with_document(**changes: Any) -> dict[str, bytes]:
        return {**a, "annotations.json": document(**changes)}

    return [
        ({"images/a.png": b"\0" * 2 * 1024 * 1024, "annotations.json": document()}, InvalidInput, "zip bomb"),
        ({**with_document(), "../evil.png": photo(1)}, InvalidInput, "unsafe path"),
        (a, InvalidInput, "exactly one .json"),
        ({**a, "x.json": document(), "y.json": document()}, InvalidInput, "exactly one .json"),
        ({**a, "annotations.json": b"{not json"}, InvalidInput, "not acceptable JSON"),
        ({**a, "annotations.json": b'{"images": [{"id": NaN, "file_name": "a.png"}]}'}, InvalidInput, "NaN"),
        ({**a, "annotations.json": b'{"categories": []}'}, InvalidInput, "images: Field required"),
        (with_document(images=[{"id": 1, "file_name": "gone.png"}]), InvalidInput, "gone.png"),
        (with_document(annotations=[{"image_id": 1, "category_id": 9}]), InvalidInput, "category 9"),
        (with_document(annotations=[{"image_id": 5, "category_id": 1}]), InvalidInput, "image 5"),
        (with_document(categories=[{"id": 1, "name": "a/b"}]), InvalidInput, "cannot be a class"),
        (with_document(categories=[{"id": 1, "name": "x"}, {"id": 1, "name": "y"}]), InvalidInput, "twice"),
        (with_document(images=[{"id": 1, "file_name": "a.png", "width": 99}]), InvalidInput, "99x"),
        ({"images/a.png": b"not a photo", "annotations.json": document()}, InvalidInput, "a.png"),
        ({**a, "annotations.json": b" " * (33 * 1024 * 1024)}, TooLarge, "annotations.json"),
    ]  # fmt: skip


@pytest.mark.parametrize(("entries", "error", "message"), refused_zips())
def test_refused_zips_store_nothing(
    database_url: str, store: ObjectStore, entries: dict[str, bytes], error: type[Exception], message: str
) -> None:
    limits = LIMITS if "annotations.json" not in entries or len(entries["annotations.json"]) < 2**20 else _big(LIMITS)
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        with pytest.raises(error, match=message):
            import_coco(
                session,
                store=store,
                owner=owner,
                spec=DatasetCreate(name="Refused"),
                source=io.BytesIO(zip_bytes(entries)),
                limits=limits,
                max_pixels=MAX_PIXELS,
            )
        assert session.exec(select(Dataset).where(col(Dataset.owner_id) == owner.id)).all() == []


def _big(limits: ZipLimits) -> ZipLimits:
    """Limits letting a large, highly compressible annotations file through to its own size check."""
    return replace(limits, max_ratio=10**6, max_entry_bytes=64 * 1024 * 1024, max_bytes=128 * 1024 * 1024)
