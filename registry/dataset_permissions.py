"""Who may see, use or modify a dataset, and the grants that say so (the pattern of registry.permissions)."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from commons.errors import Forbidden, NotFound
from registry.grants import grantee_id_for
from registry.models import Dataset, DatasetGrant, User

ALL_RIGHTS = frozenset({"use", "modify", "own"})


def rights(session: Session, dataset: Dataset, user: User | None) -> frozenset[str]:
    """The owner and admins have all rights; grants to the user or to everyone add more; modify implies use."""
    if user is not None and (user.is_admin or user.id == dataset.owner_id):
        return ALL_RIGHTS
    grantees: list[ColumnElement[bool]] = [col(DatasetGrant.grantee_id).is_(None)]
    if user is not None:
        grantees.append(col(DatasetGrant.grantee_id) == user.id)
    granted = session.exec(
        select(DatasetGrant.permission).where(DatasetGrant.dataset_id == dataset.id, or_(*grantees))
    ).all()
    found = set(granted)
    if "modify" in found:
        found.add("use")
    return frozenset(found)


def visible(dataset: Dataset, granted: frozenset[str]) -> bool:
    return dataset.visibility == "public" or bool(granted)


def visible_condition(user: User | None) -> ColumnElement[bool] | None:
    """A WHERE clause selecting the datasets `user` may see (None: every dataset, for admins)."""
    if user is not None and user.is_admin:
        return None
    grantees: list[ColumnElement[bool]] = [col(DatasetGrant.grantee_id).is_(None)]
    conditions: list[ColumnElement[bool]] = [col(Dataset.visibility) == "public"]
    if user is not None:
        grantees.append(col(DatasetGrant.grantee_id) == user.id)
        conditions.append(col(Dataset.owner_id) == user.id)
    conditions.append(col(Dataset.id).in_(select(DatasetGrant.dataset_id).where(or_(*grantees))))
    return or_(*conditions)


def dataset_for(session: Session, *, dataset_id: str, user: User | None, need: str | None = None) -> Dataset:
    """The dataset if the caller may see it (else NotFound) and holds `need` (else Forbidden)."""
    dataset = session.get(Dataset, dataset_id)
    missing = f"no dataset {dataset_id!r}; list what you can see at GET /api/v1/datasets"
    if dataset is None:
        raise NotFound(missing)
    granted = rights(session, dataset, user)
    if not visible(dataset, granted):
        raise NotFound(missing)
    if need is not None and need not in granted:
        raise Forbidden(f"you lack the {need!r} right on dataset {dataset_id!r}; ask its owner for a grant")
    return dataset


def grant(session: Session, *, dataset: Dataset, username: str, permission: str, actor: User) -> DatasetGrant:
    grantee_id = grantee_id_for(session, username)
    existing = session.exec(
        select(DatasetGrant).where(
            DatasetGrant.dataset_id == dataset.id,
            DatasetGrant.permission == permission,
            col(DatasetGrant.grantee_id).is_(None)
            if grantee_id is None
            else col(DatasetGrant.grantee_id) == grantee_id,
        )
    ).first()
    if existing is not None:
        return existing
    created = DatasetGrant(dataset_id=dataset.id, grantee_id=grantee_id, permission=permission, created_by=actor.id)
    session.add(created)
    session.flush()
    return created


def list_grants(session: Session, dataset: Dataset) -> list[DatasetGrant]:
    query = select(DatasetGrant).where(DatasetGrant.dataset_id == dataset.id)
    return list(session.exec(query.order_by(col(DatasetGrant.created_at), col(DatasetGrant.id))))


def revoke(session: Session, *, dataset: Dataset, grant_id: str) -> None:
    found = session.get(DatasetGrant, grant_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no grant {grant_id!r} on dataset {dataset.id!r}; list them at GET …/grants")
    session.delete(found)
    session.flush()
