"""Labelled image datasets: the datasets, their ordered classes and their content-addressed items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict, InvalidInput, NotFound
from commons.hashing import sha256_bytes, sha256_json
from commons.image_io import ImageInfo, image_info
from commons.store import ObjectStore, keys
from registry.clock import utcnow
from registry.dataset_permissions import rights, visible_condition
from registry.dataset_schemas import DatasetCreate, DatasetPublic, DatasetUpdate, ItemPublic
from registry.models import Dataset, DatasetClass, DatasetGrant, DatasetItem, Task, User

EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "TIFF": "tiff", "BMP": "bmp", "WEBP": "webp"}


@dataclass(frozen=True)
class ItemImage:
    """A photo that passed validation, ready to be stored."""

    name: str
    data: bytes
    sha256: str
    info: ImageInfo


def validate_image(data: bytes, *, name: str, max_pixels: int) -> ItemImage:
    """Decode the whole photo (InvalidImage naming `name` if it is not one) and hash it."""
    return ItemImage(
        name=name, data=data, sha256=sha256_bytes(data), info=image_info(data, name=name, max_pixels=max_pixels)
    )


def _touch(session: Session, dataset: Dataset) -> None:
    dataset.updated_at = utcnow()
    session.add(dataset)


def create_dataset(session: Session, *, owner: User, spec: DatasetCreate) -> Dataset:
    dataset = Dataset(owner_id=owner.id, name=spec.name, description=spec.description, visibility=spec.visibility)
    session.add(dataset)
    session.flush()
    for name in spec.classes:
        create_class(session, dataset=dataset, name=name)
    return dataset


def update_dataset(session: Session, *, dataset: Dataset, changes: DatasetUpdate) -> Dataset:
    for field, value in changes.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(dataset, field, value)
    _touch(session, dataset)
    session.flush()
    return dataset


def delete_dataset(session: Session, *, store: ObjectStore, dataset: Dataset) -> None:
    """Delete the dataset, its classes, items, grants and stored photos; refused while a task is using it."""
    busy = session.exec(
        select(func.count())
        .select_from(Task)
        .where(Task.dataset_id == dataset.id, col(Task.status).in_(["pending", "scheduled", "running"]))
    ).one()
    if busy:
        raise Conflict(f"{busy} task(s) are still using this dataset; wait for them to end or cancel them first")
    for table in (DatasetItem, DatasetClass, DatasetGrant):
        session.exec(delete(table).where(col(table.dataset_id) == dataset.id))
    session.delete(dataset)
    session.flush()
    store.delete_prefix(keys.dataset_prefix(dataset.id))


def list_visible_datasets(session: Session, user: User | None, *, limit: int, offset: int) -> list[Dataset]:
    query = select(Dataset).order_by(col(Dataset.created_at).desc(), col(Dataset.id))
    condition = visible_condition(user)
    if condition is not None:
        query = query.where(condition)
    return list(session.exec(query.offset(offset).limit(limit)).all())


def list_classes(session: Session, dataset: Dataset) -> list[DatasetClass]:
    query = select(DatasetClass).where(DatasetClass.dataset_id == dataset.id)
    return list(session.exec(query.order_by(col(DatasetClass.position), col(DatasetClass.id))))


def class_names(session: Session, dataset: Dataset) -> dict[str, str]:
    """Class id → name."""
    return {row.id: row.name for row in list_classes(session, dataset)}


def get_class(session: Session, dataset: Dataset, class_id: str) -> DatasetClass:
    found = session.get(DatasetClass, class_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no class {class_id!r} in dataset {dataset.id!r}; list them at GET …/classes")
    return found


def class_by_name(session: Session, dataset: Dataset, name: str) -> DatasetClass:
    found = session.exec(
        select(DatasetClass).where(DatasetClass.dataset_id == dataset.id, DatasetClass.name == name)
    ).first()
    if found is None:
        raise InvalidInput(
            f"dataset {dataset.id!r} has no class {name!r}; create it with POST …/classes first", field="class"
        )
    return found


def create_class(session: Session, *, dataset: Dataset, name: str) -> DatasetClass:
    taken = session.exec(
        select(DatasetClass.id).where(DatasetClass.dataset_id == dataset.id, DatasetClass.name == name)
    ).first()
    if taken is not None:
        raise Conflict(f"dataset {dataset.id!r} already has a class {name!r}", field="name")
    last = session.exec(select(func.max(DatasetClass.position)).where(DatasetClass.dataset_id == dataset.id)).one()
    created = DatasetClass(dataset_id=dataset.id, name=name, position=0 if last is None else last + 1)
    session.add(created)
    _touch(session, dataset)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"dataset {dataset.id!r} already has a class {name!r}", field="name") from error
    return created


def ensure_class(session: Session, *, dataset: Dataset, name: str) -> DatasetClass:
    found = session.exec(
        select(DatasetClass).where(DatasetClass.dataset_id == dataset.id, DatasetClass.name == name)
    ).first()
    return found if found is not None else create_class(session, dataset=dataset, name=name)


def rename_class(session: Session, *, dataset: Dataset, class_id: str, name: str) -> DatasetClass:
    found = get_class(session, dataset, class_id)
    if found.name == name:
        return found
    clash = session.exec(
        select(DatasetClass.id).where(DatasetClass.dataset_id == dataset.id, DatasetClass.name == name)
    ).first()
    if clash is not None:
        raise Conflict(f"dataset {dataset.id!r} already has a class {name!r}; choose another name", field="name")
    found.name = name
    session.add(found)
    _touch(session, dataset)
    session.flush()
    return found


def delete_class(session: Session, *, dataset: Dataset, class_id: str) -> None:
    """Delete the class; its items stay, unlabelled."""
    found = get_class(session, dataset, class_id)
    for item in session.exec(select(DatasetItem).where(DatasetItem.class_id == found.id)):
        item.class_id = None
        session.add(item)
    session.flush()
    session.delete(found)
    _touch(session, dataset)
    session.flush()


def count_items(
    session: Session, dataset: Dataset, *, class_id: str | None = None, labelled: bool | None = None
) -> int:
    query = select(func.count()).select_from(DatasetItem).where(DatasetItem.dataset_id == dataset.id)
    if class_id is not None:
        query = query.where(DatasetItem.class_id == class_id)
    if labelled is not None:
        label = col(DatasetItem.class_id)
        query = query.where(label.is_not(None) if labelled else label.is_(None))
    return session.exec(query).one()


def add_items(
    session: Session, *, store: ObjectStore, dataset: Dataset, images: list[ItemImage], label: str | None
) -> list[DatasetItem]:
    """Store each photo once per dataset; a photo already there is returned (and relabelled if `label` is given)."""
    target = class_by_name(session, dataset, label) if label is not None else None
    return [add_item(session, store=store, dataset=dataset, image=image, label=target) for image in images]


def add_item(
    session: Session, *, store: ObjectStore, dataset: Dataset, image: ItemImage, label: DatasetClass | None
) -> DatasetItem:
    existing = session.exec(
        select(DatasetItem).where(DatasetItem.dataset_id == dataset.id, DatasetItem.sha256 == image.sha256)
    ).first()
    if existing is not None:
        if label is not None and existing.class_id != label.id:
            existing.class_id = label.id
            session.add(existing)
            _touch(session, dataset)
            session.flush()
        return existing
    extension = EXTENSIONS[image.info.format]
    item = DatasetItem(
        dataset_id=dataset.id,
        class_id=label.id if label is not None else None,
        sha256=image.sha256,
        size=len(image.data),
        width=image.info.width,
        height=image.info.height,
        content_type=image.info.content_type,
        extension=extension,
        original_name=image.name.rsplit("/", 1)[-1][:255] or f"{image.sha256[:16]}.{extension}",
    )
    session.add(item)
    _touch(session, dataset)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"{image.name} was added to this dataset at the same moment; send it again") from error
    key = keys.dataset_item(dataset.id, image.sha256, extension)
    store.put_bytes(key=key, data=image.data, content_type=image.info.content_type)
    return item


def list_items(
    session: Session, dataset: Dataset, *, label: str | None, labelled: bool | None, limit: int, offset: int
) -> list[DatasetItem]:
    query = select(DatasetItem).where(DatasetItem.dataset_id == dataset.id)
    if label is not None:
        query = query.where(DatasetItem.class_id == class_by_name(session, dataset, label).id)
    if labelled is not None:
        column = col(DatasetItem.class_id)
        query = query.where(column.is_not(None) if labelled else column.is_(None))
    query = query.order_by(col(DatasetItem.created_at), col(DatasetItem.id))
    return list(session.exec(query.offset(offset).limit(limit)).all())


def get_item(session: Session, dataset: Dataset, item_id: str) -> DatasetItem:
    found = session.get(DatasetItem, item_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no item {item_id!r} in dataset {dataset.id!r}; list them at GET …/items")
    return found


def set_label(session: Session, *, dataset: Dataset, item_id: str, label: str | None) -> DatasetItem:
    item = get_item(session, dataset, item_id)
    item.class_id = class_by_name(session, dataset, label).id if label is not None else None
    session.add(item)
    _touch(session, dataset)
    session.flush()
    return item


def delete_item(session: Session, *, store: ObjectStore, dataset: Dataset, item_id: str) -> None:
    item = get_item(session, dataset, item_id)
    session.delete(item)
    _touch(session, dataset)
    session.flush()
    store.delete_prefix(item_key(item))


def item_key(item: DatasetItem) -> str:
    return keys.dataset_item(item.dataset_id, item.sha256, item.extension)


def dataset_digest(session: Session, dataset: Dataset) -> str:
    """sha256 of the canonical JSON of the ordered class names and the sorted (item sha256, class name) pairs."""
    names = class_names(session, dataset)
    rows = session.exec(
        select(DatasetItem.sha256, DatasetItem.class_id).where(DatasetItem.dataset_id == dataset.id)
    ).all()
    items = [[sha, names[class_id] if class_id else None] for sha, class_id in sorted(rows, key=lambda row: row[0])]
    return "sha256:" + sha256_json({"classes": list(names.values()), "items": items})


def dataset_public(session: Session, dataset: Dataset, user: User | None) -> DatasetPublic:
    owner = session.get(User, dataset.owner_id)
    return DatasetPublic(
        id=dataset.id,
        name=dataset.name,
        description=dataset.description,
        visibility=dataset.visibility,
        owner=owner.username if owner else "",
        classes=list(class_names(session, dataset).values()),
        item_count=count_items(session, dataset),
        labelled_count=count_items(session, dataset, labelled=True),
        digest=dataset_digest(session, dataset),
        permissions=sorted(rights(session, dataset, user)),
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
    dataset = Dataset(
        id=dataset_id,
        owner_id=owner.id,
        name=name,
        description=description,
        visibility="private",
        source_id=source_id,
        derivation=derivation,
    )
    session.add(dataset)
    session.flush()
    by_name = {class_name: create_class(session, dataset=dataset, name=class_name) for class_name in classes}
    for image, label in images:
        add_item(session, store=store, dataset=dataset, image=image, label=by_name[label] if label else None)
    return dataset
