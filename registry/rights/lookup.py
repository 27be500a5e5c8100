"""One item by its address, if the caller may see it and holds the right a route needs: the check every route
and flow step makes before it touches a resource or a dataset."""

from __future__ import annotations

from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, NotFound
from registry.models import Dataset, Resource, User
from registry.rights.decision import access, access_many
from registry.rights.items import BOUND, LACKING, MISSING, Item, item_type


def require(session: Session, item: Item, user: User | None, *, need: str | None, ref: str | None = None) -> None:
    """NotFound unless the caller may see the item (a resource or a dataset, addressed as `ref`); Forbidden
    unless they hold `need`."""
    kind = item_type(item)
    ref = ref or item.name
    found = access(session, item, user)
    if not found.visible:
        raise NotFound(MISSING[kind].format(ref=ref))
    if need is not None and need not in found.rights:
        if found.blocked_by:
            raise Forbidden(BOUND[kind].format(ref=ref, name=item.name, source=found.blocked_by[0].name))
        raise Forbidden(LACKING[kind].format(need=need, ref=ref))


def resource_for(session: Session, *, name: str, user: User | None, need: str | None = None) -> Resource:
    """The resource named `owner/name` (or, for one release, a bare `name`: see `find_resource`) if the caller
    may see it (else NotFound) and holds `need` (else Forbidden)."""
    resource = find_resource(session, ref=name, user=user)
    require(session, resource, user, need=need, ref=name)
    return resource


def dataset_for(session: Session, *, dataset_id: str, user: User | None, need: str | None = None) -> Dataset:
    """The dataset addressed by `dataset_id` (`owner/slug` or its id) if the caller may see it (else NotFound)
    and holds `need` (else Forbidden)."""
    dataset = find_dataset(session, dataset_id)
    if dataset is None:
        raise NotFound(MISSING["dataset"].format(ref=dataset_id))
    require(session, dataset, user, need=need, ref=dataset_id)
    return dataset


def find_resource(session: Session, *, ref: str, user: User | None) -> Resource:
    """Resolve `owner/name`; a bare `name` (the addressing before names lived under their owner) resolves to
    the caller's own resource of that name, else to the one resource of that name the caller may see, else
    NotFound; two or more visible ones answer Conflict naming them, so an old link never picks silently.
    Nothing here tells a caller about a resource they may not see."""
    missing = MISSING["resource"].format(ref=ref)
    owner_name, _, bare = ref.rpartition("/")
    query = select(Resource).where(Resource.name == bare)
    if owner_name:
        query = query.join(User, col(User.id) == col(Resource.owner_id)).where(User.username == owner_name)
    candidates = list(session.exec(query.limit(50)).all())
    if owner_name or len(candidates) <= 1:
        if not candidates:
            raise NotFound(missing)
        return candidates[0]
    own = [r for r in candidates if user is not None and r.owner_id == user.id]
    if own:
        return own[0]
    found = access_many(session, candidates, user)
    seen = [r for r in candidates if found[r.id].visible]
    if not seen:
        raise NotFound(missing)
    if len(seen) > 1:
        owners = dict(
            session.exec(select(User.id, User.username).where(col(User.id).in_({r.owner_id for r in seen}))).all()
        )
        refs = ", ".join(sorted(f"{owners.get(r.owner_id, '?')}/{r.name}" for r in seen))
        raise Conflict(f"several resources you can see are named {bare!r} ({refs}); address one as owner/name")
    return seen[0]


def find_dataset(session: Session, ref: str) -> Dataset | None:
    """The dataset at `owner/slug`, or with id `ref` (ids stay valid in every URL); None if there is none."""
    owner_name, _, slug = ref.rpartition("/")
    if not owner_name:
        return session.get(Dataset, ref)
    query = select(Dataset).join(User, col(User.id) == col(Dataset.owner_id))
    return session.exec(query.where(User.username == owner_name, Dataset.slug == slug)).first()
