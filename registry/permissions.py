"""Who may see, use or modify a resource: `registry.rights` applied to resources."""

from __future__ import annotations

from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, NotFound
from registry.models import Resource, User
from registry.rights import ALL_RIGHTS, access, access_many, grants_reaching, implied_rights

__all__ = [
    "ALL_RIGHTS",
    "find_resource",
    "grants_reaching",
    "implied_rights",
    "require",
    "resource_for",
    "rights",
    "rights_on_many",
    "visible",
]


def rights(session: Session, resource: Resource, user: User | None) -> frozenset[str]:
    """The caller's rights: the owner and admins have all; grants to the user or to everyone add more; a
    binding private source the caller cannot read takes them away (see `registry.rights`)."""
    return access(session, resource, user).rights


def rights_on_many(session: Session, resources: list[Resource], user: User | None) -> dict[str, frozenset[str]]:
    """`rights` for many resources in a fixed number of queries: resource id → the caller's rights."""
    return {item_id: found.rights for item_id, found in access_many(session, resources, user).items()}


def visible(resource: Resource, granted: frozenset[str]) -> bool:
    return resource.visibility == "public" or bool(granted)


def resource_for(session: Session, *, name: str, user: User | None, need: str | None = None) -> Resource:
    """The resource named `owner/name` (or, for one release, a bare `name`: see `find_resource`) if the caller
    may see it (else NotFound) and holds `need` (else Forbidden)."""
    resource = find_resource(session, ref=name, user=user)
    require(session, resource, user, need=need, ref=name)
    return resource


def find_resource(session: Session, *, ref: str, user: User | None) -> Resource:
    """Resolve `owner/name`; a bare `name` (the addressing before names lived under their owner) resolves to
    the caller's own resource of that name, else to the one resource of that name the caller may see, else
    NotFound; two or more visible ones answer Conflict naming them, so an old link never picks silently.
    Nothing here tells a caller about a resource they may not see."""
    missing = f"no resource named {ref!r}; list what you can see at GET /api/v1/resources"
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


def require(
    session: Session, resource: Resource, user: User | None, *, need: str | None, ref: str | None = None
) -> None:
    """NotFound unless the caller may see the resource; Forbidden unless they hold `need`."""
    ref = ref or resource.name
    found = access(session, resource, user)
    if not found.visible:
        raise NotFound(f"no resource named {ref!r}; list what you can see at GET /api/v1/resources")
    if need is not None and need not in found.rights:
        if found.blocked_by:
            source = found.blocked_by[0]
            raise Forbidden(
                f"{ref!r} is made from {source.name!r}, which you can no longer read; ask its owner for access "
                "(the derivative is kept, nothing was deleted)"
            )
        raise Forbidden(
            f"you lack the {need!r} right on {ref!r}; ask the owner with POST /api/v1/resources/{ref}/access-requests",
        )
