"""Datasets a task makes (e.g. augmented copies): a fixed id per task, photos stored before rows, lineage."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from commons.errors import Conflict
from commons.hashing import sha256_bytes
from commons.store import ObjectStore, keys
from registry.dataset_classes import create_class
from registry.datasets.items import EXTENSIONS, ItemImage, add_item
from registry.datasets.records import place_dataset
from registry.models import Dataset, User
from registry.rights import record_lineage


def derived_dataset_id(task_id: str) -> str:
    """The id of the dataset a task derives: fixed by the task, so a retried publish writes the same keys."""
    return sha256_bytes(f"derived-dataset:{task_id}".encode())[:32]


def create_derived_dataset(
    session: Session,
    *,
    store: ObjectStore,
    owner: User,
    dataset_id: str,
    source_id: str,
    name: str,
    description: str,
    classes: list[str],
    derivation: dict[str, Any],
    images: list[tuple[ItemImage, str | None]],
) -> Dataset:
    """A new private dataset of `owner` holding `images` (each with its class name, or None: unlabelled),
    the classes in `classes` order, and its lineage: `source_id` (the dataset it was made from) and how.

    Each photo is stored once (a repeat, e.g. the mirror image of a symmetric photo, is kept once, with the
    first label given). Objects are written before the rows are committed, so a committed item always has
    its object; `dataset_id` (see `derived_dataset_id`) makes a retry write the same keys.
    """
    existing = session.get(Dataset, dataset_id)
    if existing is not None:
        raise Conflict(f"dataset {dataset_id} already exists; the task that makes it has already published")
    for image, _ in images:  # bytes first, rows after: no write transaction is open while they travel
        key = keys.dataset_item(dataset_id, image.sha256, EXTENSIONS[image.info.format])
        store.put_bytes(key=key, data=image.data, content_type=image.info.content_type)
    dataset = Dataset(
        id=dataset_id,
        owner_id=owner.id,
        name=name,
        slug="",
        description=description,
        visibility="private",
        source_id=source_id,
        derivation=derivation,
    )
    place_dataset(session, dataset)
    source = session.get(Dataset, source_id)
    record_lineage(
        session, item=dataset, sources=[source] if source is not None else [], task_id=derivation.get("task")
    )
    by_name = {class_name: create_class(session, dataset=dataset, name=class_name) for class_name in classes}
    for image, label in images:
        add_item(session, store=store, dataset=dataset, image=image.stored(), label=by_name[label] if label else None)
    return dataset
