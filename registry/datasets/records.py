"""Datasets themselves: create, place at owner/slug, update, list what a caller may see."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict
from registry.dataset_classes import create_class, touch_dataset
from registry.dataset_schemas import RESERVED_SLUGS, DatasetCreate, DatasetUpdate, slug_from_name
from registry.models import Dataset, User
from registry.rights import check_policy_change, visible_condition


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


def list_visible_datasets(session: Session, user: User | None, *, limit: int, offset: int) -> list[Dataset]:
    query = select(Dataset).order_by(col(Dataset.created_at).desc(), col(Dataset.id))
    condition = visible_condition("dataset", user)
    if condition is not None:
        query = query.where(condition)
    return list(session.exec(query.offset(offset).limit(limit)).all())
