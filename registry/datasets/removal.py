"""Taking photos and datasets away: deleted photos a task may have frozen stay as tombstones with their bytes
until no task refers to them; a dataset others were made from, or that tasks are using, is not deleted."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, exists, func, update
from sqlmodel import Session, col, select

from commons.errors import Conflict
from commons.store import ObjectStore, keys
from registry.clock import utcnow
from registry.dataset_classes import touch_dataset
from registry.datasets.items import get_item, item_key
from registry.models import Dataset, DatasetAccessRequest, DatasetClass, DatasetGrant, DatasetItem, Resource, Task
from registry.rights import derivatives_of


def referenced_item() -> ColumnElement[bool]:
    """An item a task may have frozen: a task on its dataset was created at or after the item was added.

    A task's snapshot is taken before its row is created, so it can list only items added before; a
    reproduction (a later task on the same dataset) reuses its original's snapshot, and a published
    version's provenance names the task that made it. Conservative: it may keep a photo a later task's
    snapshot did not list (e.g. one deleted before that task), never drop one a snapshot lists.
    """
    return exists().where(
        col(Task.dataset_id) == col(DatasetItem.dataset_id), col(Task.created_at) >= col(DatasetItem.created_at)
    )


def _dataset_named_by_a_task(session: Session, dataset_id: str) -> bool:
    return session.exec(select(Task.id).where(Task.dataset_id == dataset_id).limit(1)).first() is not None


def delete_dataset(session: Session, *, store: ObjectStore, dataset: Dataset) -> None:
    """Delete the dataset, its classes, items, grants and stored photos; refused while a task is using it.

    The photos a task may have frozen (see `referenced_item`) keep their objects, so a finished task's
    snapshot still names stored bytes; the others go. Such a task cannot be reproduced any more, though: a
    reproduction needs `use` on the dataset, which no longer exists, so POST /tasks/{id}/reproduce answers
    404 (accepted: the owner chose to delete the data). `reclaim_deleted_dataset` frees the kept objects
    once no task names the dataset.
    """
    busy = session.exec(
        select(func.count())
        .select_from(Task)
        .where(Task.dataset_id == dataset.id, col(Task.status).in_(["pending", "scheduled", "running"]))
    ).one()
    if busy:
        raise Conflict(f"{busy} task(s) are still using this dataset; wait for them to end or cancel them first")
    check_no_derivatives(session, dataset)
    kept = {
        keys.dataset_item(dataset.id, sha256, extension)
        for sha256, extension in session.exec(
            select(DatasetItem.sha256, DatasetItem.extension).where(
                DatasetItem.dataset_id == dataset.id, referenced_item()
            )
        )
    }
    for table in (DatasetItem, DatasetClass, DatasetGrant, DatasetAccessRequest):
        session.exec(delete(table).where(col(table.dataset_id) == dataset.id))
    session.delete(dataset)
    session.flush()
    if not kept:
        store.delete_prefix(keys.dataset_prefix(dataset.id))
        return
    for key in list(store.list_keys(keys.dataset_prefix(dataset.id))):
        if key not in kept:
            store.delete_prefix(key)


def check_no_derivatives(session: Session, dataset: Dataset) -> None:
    """Refuse to delete a dataset that other items were made from (they would lose what binds them)."""
    made = derivatives_of(session, dataset)
    if not made:
        return
    names = []
    for kind, item_id in made[:5]:
        row: Resource | Dataset | None = (
            session.get(Resource, item_id) if kind == "resource" else session.get(Dataset, item_id)
        )
        names.append(f"{kind} {row.name!r}" if row is not None else f"{kind} {item_id}")
    more = f" and {len(made) - 5} more" if len(made) > 5 else ""
    raise Conflict(
        f"{len(made)} item(s) are made from dataset {dataset.name!r} ({', '.join(names)}{more}); delete them "
        "first, or make this dataset public or release its derivatives (derivatives: open) before deleting it"
    )


def delete_item(session: Session, *, store: ObjectStore, dataset: Dataset, item_id: str) -> None:
    """Take the photo out of the dataset. If a task may have frozen it (see `referenced_item`), only the row
    is tombstoned: the dataset no longer lists, counts or exports it, but its object stays for that task,
    its reproductions and the provenance of what it published, until `reclaim_unreferenced` frees it.
    Otherwise the row and the object go at once. Serialised with snapshots by `lock_dataset`."""
    lock_dataset(session, dataset)
    item = get_item(session, dataset, item_id)
    held = session.exec(select(DatasetItem.id).where(DatasetItem.id == item.id, referenced_item())).first()
    if held is not None:
        item.deleted_at = utcnow()
        session.add(item)
    else:
        session.delete(item)
    touch_dataset(session, dataset)
    session.flush()
    if held is None:
        store.delete_prefix(item_key(item))
    reclaim_unreferenced(session, store=store, dataset=dataset)


def lock_dataset(session: Session, dataset: Dataset) -> None:
    """Hold the dataset's row until the transaction ends, so that taking a task's snapshot and deleting a photo
    happen one after the other: either the delete comes first (the snapshot lacks the photo) or it waits for
    the task's row (and then keeps the photo's bytes for it). A no-op UPDATE locks the row on PostgreSQL and
    takes SQLite's write lock before anything is read."""
    session.execute(
        update(Dataset)
        .where(col(Dataset.id) == dataset.id)
        .values(updated_at=Dataset.updated_at)
        .execution_options(synchronize_session=False)
    )


def reclaim_unreferenced(session: Session, *, store: ObjectStore, dataset: Dataset) -> int:
    """Free the bytes deleted photos were kept for once no task refers to them: the dataset's tombstoned
    items that no task refers to any more (see `referenced_item`) lose row and object. Returns how many.

    Tasks are not deleted today, so this frees something only once task rows are removed.
    """
    stale = session.exec(
        select(DatasetItem).where(
            DatasetItem.dataset_id == dataset.id, col(DatasetItem.deleted_at).is_not(None), ~referenced_item()
        )
    ).all()
    for item in stale:
        session.delete(item)
    session.flush()
    for item in stale:
        store.delete_prefix(item_key(item))
    return len(stale)


def reclaim_deleted_dataset(session: Session, *, store: ObjectStore, dataset_id: str) -> int:
    """The objects a deleted dataset kept for its tasks (see `delete_dataset`) go once no task names it;
    returns how many objects went. Refused for a dataset that exists: its photos are freed by
    `reclaim_unreferenced`, item by item."""
    if session.get(Dataset, dataset_id) is not None:
        raise Conflict(
            f"dataset {dataset_id!r} still exists; free its deleted photos with reclaim_unreferenced instead"
        )
    if _dataset_named_by_a_task(session, dataset_id):
        return 0
    return store.delete_prefix(keys.dataset_prefix(dataset_id))


def retained(session: Session, dataset: Dataset) -> tuple[int, int]:
    """How many deleted photos of the dataset are kept because tasks refer to them, and their bytes."""
    count, size = session.exec(
        select(func.count(), func.coalesce(func.sum(DatasetItem.size), 0)).where(
            DatasetItem.dataset_id == dataset.id, col(DatasetItem.deleted_at).is_not(None)
        )
    ).one()
    return int(count), int(size)
