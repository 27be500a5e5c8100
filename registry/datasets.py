"""Labelled image datasets: the datasets and their content-addressed items (their classes: `dataset_classes`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict, NotFound
from commons.hashing import sha256_bytes, sha256_json
from commons.image_io import ImageInfo, image_info
from commons.store import ObjectStore, keys
from registry.clock import utcnow
from registry.dataset_classes import class_by_name, class_names, create_class, touch_dataset
from registry.dataset_permissions import rights, visible_condition
from registry.dataset_schemas import (
    RESERVED_SLUGS,
    DatasetCreate,
    DatasetPublic,
    DatasetUpdate,
    ItemPublic,
    slug_from_name,
)
from registry.models import Dataset, DatasetClass, DatasetGrant, DatasetItem, Resource, Task, User
from registry.rights import check_policy_change, derivatives_of, record_lineage, sources_public

EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "TIFF": "tiff", "BMP": "bmp", "WEBP": "webp"}


@dataclass(frozen=True)
class ItemImage:
    """A photo that passed validation, ready to be stored."""

    name: str
    data: bytes
    sha256: str
    info: ImageInfo
    size: int = -1  # len(data); kept when the bytes are dropped after `put_item_object` (see `stored`)

    @property
    def byte_size(self) -> int:
        return self.size if self.size >= 0 else len(self.data)

    def stored(self) -> ItemImage:
        """This photo without its bytes, once they are in the object store: what the row needs."""
        return ItemImage(name=self.name, data=b"", sha256=self.sha256, info=self.info, size=self.byte_size)


def validate_image(data: bytes, *, name: str, max_pixels: int) -> ItemImage:
    """Decode the whole photo in its own mode, within the process's decode slots (InvalidImage naming `name`
    if it is not one, or holds more than `max_pixels`: checked from the header first), and hash it."""
    return ItemImage(
        name=name, data=data, sha256=sha256_bytes(data), info=image_info(data, name=name, max_pixels=max_pixels)
    )


def create_dataset(session: Session, *, owner: User, spec: DatasetCreate) -> Dataset:
    dataset = Dataset(
        owner_id=owner.id, name=spec.name, slug="", description=spec.description, visibility=spec.visibility
    )
    place_dataset(session, dataset, slug=spec.slug)
    for name in spec.classes:
        create_class(session, dataset=dataset, name=name)
    return dataset


def place_dataset(session: Session, dataset: Dataset, *, slug: str | None = None) -> None:
    """Insert `dataset` at `owner/slug`: the slug given (Conflict if the owner already has a dataset there), or
    one made from its name with the first free '-2', '-3', … suffix. Slugs are unique per owner only, so the
    answer tells nothing about anyone else's datasets. Two creations racing for one slug: the loser takes the
    next suffix (the unique constraint decides, inside a savepoint)."""
    base = slug or slug_from_name(dataset.name)
    taken = set(
        session.exec(
            select(Dataset.slug).where(Dataset.owner_id == dataset.owner_id, col(Dataset.slug).startswith(base))
        ).all()
    )
    counter = 1
    for _attempt in range(20):
        candidate = base
        if counter > 1:
            suffix = f"-{counter}"
            candidate = base[: 64 - len(suffix)].rstrip("-") + suffix
        if candidate in taken or candidate in RESERVED_SLUGS:
            if slug is not None:
                raise Conflict(f"you already have a dataset at {slug!r}; choose another slug, or leave it out")
            counter += 1
            continue
        dataset.slug = candidate
        try:
            with session.begin_nested():
                session.add(dataset)
                session.flush()
        except IntegrityError:
            taken.add(candidate)
            continue
        return
    raise Conflict(f"could not find a free slug for {dataset.name!r}; give one explicitly")


def update_dataset(session: Session, *, dataset: Dataset, changes: DatasetUpdate, actor: User) -> Dataset:
    """Apply `changes`; visibility and the derivatives policy are the owner's (see `registry.rights`)."""
    requested = changes.model_dump(exclude_unset=True)
    check_policy_change(session, dataset, changes=requested, actor=actor, owner_fields=DatasetUpdate.OWNER_FIELDS)
    for field, value in requested.items():
        if value is not None:
            setattr(dataset, field, value)
    touch_dataset(session, dataset)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"you already have a dataset at {requested.get('slug')!r}; choose another slug") from None
    return dataset


def live_item() -> ColumnElement[bool]:
    """The items the dataset shows (lists, counts, digests, snapshots, exports): those not deleted. A deleted
    photo that a task may have frozen stays as a tombstone row (`deleted_at` set) with its object."""
    return col(DatasetItem.deleted_at).is_(None)


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
    for table in (DatasetItem, DatasetClass, DatasetGrant):
        session.exec(delete(table).where(col(table.dataset_id) == dataset.id))
    session.delete(dataset)
    session.flush()
    if not kept:
        store.delete_prefix(keys.dataset_prefix(dataset.id))
        return
    for key in list(store.list_keys(keys.dataset_prefix(dataset.id))):
        if key not in kept:
            store.delete_prefix(key)


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


def list_visible_datasets(session: Session, user: User | None, *, limit: int, offset: int) -> list[Dataset]:
    query = select(Dataset).order_by(col(Dataset.created_at).desc(), col(Dataset.id))
    condition = visible_condition(user)
    if condition is not None:
        query = query.where(condition)
    return list(session.exec(query.offset(offset).limit(limit)).all())


def count_items(
    session: Session, dataset: Dataset, *, class_id: str | None = None, labelled: bool | None = None
) -> int:
    query = select(func.count()).select_from(DatasetItem).where(DatasetItem.dataset_id == dataset.id, live_item())
    if class_id is not None:
        query = query.where(DatasetItem.class_id == class_id)
    if labelled is not None:
        label = col(DatasetItem.class_id)
        query = query.where(label.is_not(None) if labelled else label.is_(None))
    return session.exec(query).one()


def add_items(
    session: Session,
    *,
    store: ObjectStore,
    dataset: Dataset,
    images: list[ItemImage],
    label: str | None,
    stored: bool = False,
) -> list[DatasetItem]:
    """Store each photo once per dataset; a photo already there is returned (and relabelled if `label` is given).

    Every photo's bytes go to the object store first, then the rows are written: the write transaction (on
    SQLite, the one write lock) is not held while bytes travel. `stored`: the caller already did that with
    `put_item_object` (and passes the photos' `stored()` copies)."""
    if not stored:
        for image in images:
            put_item_object(session, store=store, dataset=dataset, image=image)
        images = [image.stored() for image in images]
    target = class_by_name(session, dataset, label) if label is not None else None
    return [add_item(session, store=store, dataset=dataset, image=image, label=target) for image in images]


def put_item_object(session: Session, *, store: ObjectStore, dataset: Dataset, image: ItemImage) -> bool:
    """Put the photo's bytes at their content-addressed key unless the dataset already lists it (a read, no
    write: nothing is locked). A put whose row never comes (a failed request) leaves an object no row names,
    at a key only these bytes can have: harmless, and reused if the photo is sent again. Returns whether it
    put anything."""
    listed = session.exec(
        select(DatasetItem.id).where(
            DatasetItem.dataset_id == dataset.id, DatasetItem.sha256 == image.sha256, live_item()
        )
    ).first()
    if listed is not None:
        return False
    key = keys.dataset_item(dataset.id, image.sha256, EXTENSIONS[image.info.format])
    store.put_bytes(key=key, data=image.data, content_type=image.info.content_type)
    return True


def add_item(
    session: Session, *, store: ObjectStore, dataset: Dataset, image: ItemImage, label: DatasetClass | None
) -> DatasetItem:
    """The row of one photo whose bytes are already stored (see `add_items`); if `image` still holds its bytes,
    they are stored first."""
    if image.data:
        put_item_object(session, store=store, dataset=dataset, image=image)
    existing = session.exec(
        select(DatasetItem).where(DatasetItem.dataset_id == dataset.id, DatasetItem.sha256 == image.sha256)
    ).first()
    if existing is not None and existing.deleted_at is not None:
        # Deleted but kept for a task: back in the dataset, as added now (label and name), with its first
        # `created_at`, so the tasks that froze it keep holding it if it is deleted again.
        existing.deleted_at = None
        existing.class_id = label.id if label is not None else None
        existing.original_name = image.name.rsplit("/", 1)[-1][:255] or existing.original_name
        session.add(existing)
        touch_dataset(session, dataset)
        session.flush()
        return existing
    if existing is not None:
        if label is not None and existing.class_id != label.id:
            existing.class_id = label.id
            session.add(existing)
            touch_dataset(session, dataset)
            session.flush()
        return existing
    extension = EXTENSIONS[image.info.format]
    item = DatasetItem(
        dataset_id=dataset.id,
        class_id=label.id if label is not None else None,
        sha256=image.sha256,
        size=image.byte_size,
        width=image.info.width,
        height=image.info.height,
        content_type=image.info.content_type,
        extension=extension,
        original_name=image.name.rsplit("/", 1)[-1][:255] or f"{image.sha256[:16]}.{extension}",
    )
    session.add(item)
    touch_dataset(session, dataset)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"{image.name} was added to this dataset at the same moment; send it again") from error
    return item


def list_items(
    session: Session, dataset: Dataset, *, label: str | None, labelled: bool | None, limit: int, offset: int
) -> list[DatasetItem]:
    query = select(DatasetItem).where(DatasetItem.dataset_id == dataset.id, live_item())
    if label is not None:
        query = query.where(DatasetItem.class_id == class_by_name(session, dataset, label).id)
    if labelled is not None:
        column = col(DatasetItem.class_id)
        query = query.where(column.is_not(None) if labelled else column.is_(None))
    query = query.order_by(col(DatasetItem.created_at), col(DatasetItem.id))
    return list(session.exec(query.offset(offset).limit(limit)).all())


def get_item(session: Session, dataset: Dataset, item_id: str) -> DatasetItem:
    found = session.get(DatasetItem, item_id)
    if found is None or found.dataset_id != dataset.id or found.deleted_at is not None:
        raise NotFound(f"no item {item_id!r} in dataset {dataset.id!r}; list them at GET …/items")
    return found


def set_label(session: Session, *, dataset: Dataset, item_id: str, label: str | None) -> DatasetItem:
    item = get_item(session, dataset, item_id)
    item.class_id = class_by_name(session, dataset, label).id if label is not None else None
    session.add(item)
    touch_dataset(session, dataset)
    session.flush()
    return item


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


def item_key(item: DatasetItem) -> str:
    return keys.dataset_item(item.dataset_id, item.sha256, item.extension)


def dataset_digest(session: Session, dataset: Dataset) -> str:
    """sha256 of the canonical JSON of the ordered class names and the sorted (item sha256, class name) pairs."""
    names = class_names(session, dataset)
    rows = session.exec(
        select(DatasetItem.sha256, DatasetItem.class_id).where(DatasetItem.dataset_id == dataset.id, live_item())
    ).all()
    items = [[sha, names[class_id] if class_id else None] for sha, class_id in sorted(rows, key=lambda row: row[0])]
    return "sha256:" + sha256_json({"classes": list(names.values()), "items": items})


def dataset_public(session: Session, dataset: Dataset, user: User | None) -> DatasetPublic:
    owner = session.get(User, dataset.owner_id)
    kept_items, kept_bytes = retained(session, dataset)  # deleted photos kept for tasks (see delete_item)
    return DatasetPublic(
        id=dataset.id,
        name=dataset.name,
        slug=dataset.slug,
        ref=f"{owner.username if owner else ''}/{dataset.slug}",
        description=dataset.description,
        visibility=dataset.visibility,
        owner=owner.username if owner else "",
        classes=list(class_names(session, dataset).values()),
        item_count=count_items(session, dataset),
        labelled_count=count_items(session, dataset, labelled=True),
        retained_items=kept_items,
        retained_bytes=kept_bytes,
        digest=dataset_digest(session, dataset),
        permissions=sorted(rights(session, dataset, user)),
        derivatives=dataset.derivatives,
        sources=sources_public(session, [dataset], user)[dataset.id],
        source=dataset.source_id,
        derivation=dataset.derivation,
        created_at=dataset.created_at,
        updated_at=dataset.updated_at,
    )


def item_public(item: DatasetItem, names: dict[str, str], *, url: str | None = None) -> ItemPublic:
    return ItemPublic(
        id=item.id,
        sha256=item.sha256,
        size=item.size,
        width=item.width,
        height=item.height,
        content_type=item.content_type,
        original_name=item.original_name,
        label=names[item.class_id] if item.class_id else None,
        created_at=item.created_at,
        url=url,
    )


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
