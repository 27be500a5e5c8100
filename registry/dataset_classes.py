"""The ordered classes of a labelled dataset: list, name, create (race-safe), rename, delete."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict, InvalidInput, NotFound
from registry.clock import utcnow
from registry.models import Dataset, DatasetClass, DatasetItem


def touch_dataset(session: Session, dataset: Dataset) -> None:
    dataset.updated_at = utcnow()
    session.add(dataset)


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
    # Write the dataset's row first: it opens the write transaction, so the savepoint below nests in it (pysqlite
    # begins one only at the first write; a savepoint outside one would commit on release), and on PostgreSQL it
    # holds the row, so concurrent creations in one dataset take their positions one after another.
    touch_dataset(session, dataset)
    session.flush()
    dataset_id = dataset.id  # read now: after a failed flush the row's attributes cannot be loaded
    last = session.exec(select(func.max(DatasetClass.position)).where(DatasetClass.dataset_id == dataset_id)).one()
    created = DatasetClass(dataset_id=dataset_id, name=name, position=0 if last is None else last + 1)
    try:  # a concurrent creation of the same name passed the check too: the unique constraint decides
        with session.begin_nested():
            session.add(created)
            session.flush()
    except IntegrityError as error:
        raise Conflict(f"dataset {dataset_id!r} already has a class {name!r}", field="name") from error
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
    touch_dataset(session, dataset)
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
    touch_dataset(session, dataset)
    session.flush()
