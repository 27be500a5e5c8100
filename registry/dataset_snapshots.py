"""A dataset frozen for one task: its ordered classes and every item, stored beside the task's inputs.

A task reads its dataset from this snapshot, never from the live tables, so relabelling or adding photos
after submit changes nothing for it, and a reproduction sees exactly the same items. Its one schema is
`registry.snapshot_schema.DatasetSnapshot` (stored as ``tasks/<task-id>/inputs/dataset.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from commons.errors import InvalidInput
from commons.store import ObjectStore, keys
from registry.dataset_classes import class_names
from registry.datasets import dataset_digest, live_item, lock_dataset
from registry.models import Dataset, DatasetItem
from registry.snapshot_schema import SNAPSHOT_SCHEMA, DatasetSnapshot, SnapshotItem, as_snapshot

__all__ = [
    "SNAPSHOT_NAME",
    "SNAPSHOT_SCHEMA",
    "DatasetSnapshot",
    "check_for_mode",
    "labelled_count",
    "load_snapshot",
    "store_snapshot",
    "take_snapshot",
]

SNAPSHOT_NAME = "dataset.json"


def take_snapshot(session: Session, dataset: Dataset) -> DatasetSnapshot:
    """The dataset as it is now; its row stays locked until the caller's transaction (which creates the task)
    ends, so a photo deleted meanwhile is either absent here or kept for this task (see `lock_dataset`)."""
    lock_dataset(session, dataset)
    names = class_names(session, dataset)
    rows = session.exec(select(DatasetItem).where(DatasetItem.dataset_id == dataset.id, live_item())).all()
    items = [
        SnapshotItem(
            id=row.id,
            sha256=row.sha256,
            extension=row.extension,
            size=row.size,
            name=row.original_name,
            label=names[row.class_id] if row.class_id else None,
        )
        for row in sorted(rows, key=lambda row: row.sha256)
    ]
    return DatasetSnapshot(
        id=dataset.id,
        name=dataset.name,
        digest=dataset_digest(session, dataset),
        classes=list(names.values()),
        items=items,
    )


def labelled_count(snapshot: DatasetSnapshot | Mapping[str, Any]) -> int:
    return as_snapshot(snapshot).labelled_count


def check_for_mode(snapshot: DatasetSnapshot | Mapping[str, Any], *, mode: str) -> None:
    """Refuse a dataset a train, evaluate or export task cannot use, saying what to add."""
    snapshot = as_snapshot(snapshot)
    labelled = snapshot.labelled_count
    used = {item.label for item in snapshot.labelled}
    if mode == "train":
        if len(snapshot.classes) < 2:
            raise InvalidInput(
                f"dataset {snapshot.name!r} has {len(snapshot.classes)} class(es); training needs at least 2",
                field="dataset",
            )
        if labelled < 2 or len(used) < 2:
            raise InvalidInput(
                f"dataset {snapshot.name!r} has {labelled} labelled image(s) in {len(used)} class(es); training "
                "needs labelled images of at least 2 classes — label some images first",
                field="dataset",
            )
    elif mode == "evaluate" and labelled == 0:
        raise InvalidInput(
            f"dataset {snapshot.name!r} has no labelled images; evaluation compares predictions with labels",
            field="dataset",
        )
    elif mode == "export" and labelled == 0:
        raise InvalidInput(
            f"dataset {snapshot.name!r} has no labelled images; export calibrates INT8 on its images and "
            "compares float and INT8 accuracy on them — add and label images, or choose another dataset",
            field="dataset",
        )


def store_snapshot(*, store: ObjectStore, task_id: str, snapshot: DatasetSnapshot) -> str:
    key = keys.task_input(task_id, SNAPSHOT_NAME)
    store.put_bytes(key=key, data=snapshot.to_json(), content_type="application/json")
    return key


def load_snapshot(*, store: ObjectStore, task_id: str) -> DatasetSnapshot:
    """The snapshot stored for the task, validated (InvalidInput when its schema is unknown or it is malformed)."""
    return DatasetSnapshot.from_json(store.get_bytes(keys.task_input(task_id, SNAPSHOT_NAME)), task_id=task_id)
