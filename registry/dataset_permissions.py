"""Who may see, use or modify a dataset, and the grants that say so (the pattern of registry.permissions)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_
from sqlmodel import Session, col, or_, select

from commons.errors import Forbidden, NotFound
from registry.grants import grant_named, revoked_detail
from registry.models import Dataset, DatasetGrant, Grant, User
from registry.rights import access, grants_reaching, not_bound_condition


def rights(session: Session, dataset: Dataset, user: User | None) -> frozenset[str]:
    """The owner and admins have all rights; grants to the user or to everyone add more; modify implies use; a
    binding private source the caller cannot read takes them away (see `registry.rights`)."""
    return access(session, dataset, user).rights


def visible_condition(user: User | None) -> ColumnElement[bool] | None:
    """A WHERE clause selecting the datasets `user` may see (None: every dataset, for admins)."""
    if user is not None and user.is_admin:
        return None
    reached = col(Dataset.id).in_(select(DatasetGrant.dataset_id).where(grants_reaching(user, DatasetGrant)))
    readable = and_(or_(col(Dataset.visibility) == "public", reached), not_bound_condition("dataset", user))
    if user is None:
        return readable
    return or_(col(Dataset.owner_id) == user.id, readable)


def find_dataset(session: Session, ref: str) -> Dataset | None:
    """The dataset at `owner/slug`, or with id `ref` (ids stay valid in every URL); None if there is none."""
    owner_name, _, slug = ref.rpartition("/")
    if not owner_name:
        return session.get(Dataset, ref)
    query = select(Dataset).join(User, col(User.id) == col(Dataset.owner_id))
    return session.exec(query.where(User.username == owner_name, Dataset.slug == slug)).first()


def dataset_for(session: Session, *, dataset_id: str, user: User | None, need: str | None = None) -> Dataset:
    """The dataset addressed by `dataset_id` (`owner/slug` or its id) if the caller may see it (else NotFound)
    and holds `need` (else Forbidden)."""
    dataset = find_dataset(session, dataset_id)
    missing = f"no dataset {dataset_id!r}; list what you can see at GET /api/v1/datasets"
    if dataset is None:
        raise NotFound(missing)
    found = access(session, dataset, user)
    if not found.visible:
        raise NotFound(missing)
    if need is not None and need not in found.rights:
        if found.blocked_by:
            raise Forbidden(
                f"dataset {dataset.name!r} is made from {found.blocked_by[0].name!r}, which you can no longer read; "
                "ask its owner for access (the derived dataset is kept, nothing was deleted)"
            )
        raise Forbidden(f"you lack the {need!r} right on dataset {dataset_id!r}; ask its owner for a grant")
    return dataset


def grant(
    session: Session, *, dataset: Dataset, username: str | None, permission: str, actor: User, group: str | None = None
) -> Grant | DatasetGrant:
    """Grant `permission` on a dataset to `username` ('*': everyone) or to `group`."""
    return grant_named(session, dataset, username=username, group=group, permission=permission, actor=actor)


def list_grants(session: Session, dataset: Dataset) -> list[DatasetGrant]:
    query = select(DatasetGrant).where(DatasetGrant.dataset_id == dataset.id)
    return list(session.exec(query.order_by(col(DatasetGrant.created_at), col(DatasetGrant.id))))


def revoke(session: Session, *, dataset: Dataset, grant_id: str) -> dict[str, str]:
    """Delete the grant; returns what it was (for the audit trail)."""
    found = session.get(DatasetGrant, grant_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no grant {grant_id!r} on dataset {dataset.id!r}; list them at GET …/grants")
    revoked = revoked_detail(session, found)
    session.delete(found)
    session.flush()
    return revoked
