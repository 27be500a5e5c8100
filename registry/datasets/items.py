"""A dataset's photos: validated, stored once by content, listed, counted, labelled, and the dataset's digest."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict, NotFound
from commons.hashing import sha256_bytes, sha256_json
from commons.image_io import ImageInfo, image_info
from commons.store import ObjectStore, keys
from registry.dataset_classes import class_by_name, class_names, touch_dataset
from registry.models import Dataset, DatasetClass, DatasetItem

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


def live_item() -> ColumnElement[bool]:
    """The items the dataset shows (lists, counts, digests, snapshots, exports): those not deleted. A deleted
    photo that a task may have frozen stays as a tombstone row (`deleted_at` set) with its object."""
    return col(DatasetItem.deleted_at).is_(None)


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


def count_by_class(session: Session, dataset: Dataset) -> dict[str, int]:
    """Class id → how many of the dataset's items it labels, in one query (a class labelling none is absent)."""
    query = (
        select(DatasetItem.class_id, func.count())
        .where(DatasetItem.dataset_id == dataset.id, live_item(), col(DatasetItem.class_id).is_not(None))
        .group_by(col(DatasetItem.class_id))
    )
    return {class_id: count for class_id, count in session.exec(query).all() if class_id is not None}


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
