"""A dataset exported as COCO: the document alone, or a zip of `annotations.json` and `images/`."""

from __future__ import annotations

import json
import zipfile
from typing import IO, Any

from sqlmodel import Session, col, select

from commons.store import ObjectStore
from registry.dataset_classes import class_names
from registry.dataset_zip import export_name
from registry.datasets import dataset_digest, item_key, live_item
from registry.datasets.coco.document import ANNOTATIONS_FILE, IMAGES_FOLDER, export_document
from registry.models import Dataset, DatasetItem


def _files(session: Session, dataset: Dataset) -> list[tuple[str, DatasetItem]]:
    """(file name under images/, item) for every live item, oldest first; names unique, real extensions."""
    query = select(DatasetItem).where(DatasetItem.dataset_id == dataset.id, live_item())
    used: set[str] = set()
    items = session.exec(query.order_by(col(DatasetItem.created_at), col(DatasetItem.id)))
    return [(export_name(item, used), item) for item in items]


def coco_document(
    session: Session, dataset: Dataset, *, files: list[tuple[str, DatasetItem]] | None = None
) -> dict[str, Any]:
    """The dataset's COCO document (see `registry.datasets.coco.document`); `files`: its photos, when known."""
    return export_document(
        dataset,
        digest=dataset_digest(session, dataset),
        classes=class_names(session, dataset),
        files=_files(session, dataset) if files is None else files,
    )


def write_coco_zip(session: Session, *, store: ObjectStore, dataset: Dataset, target: IO[bytes]) -> None:
    """Write `annotations.json` and every photo under `images/` (its `file_name`) to `target` as a zip."""
    files = _files(session, dataset)
    document = coco_document(session, dataset, files=files)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(ANNOTATIONS_FILE, json.dumps(document, ensure_ascii=False), zipfile.ZIP_DEFLATED)
        archive.mkdir(IMAGES_FOLDER)
        for name, item in files:
            archive.writestr(f"{IMAGES_FOLDER}/{name}", store.get_bytes(item_key(item)))
