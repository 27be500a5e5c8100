"""Who may see, use or modify a resource."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from commons.errors import Forbidden, NotFound
from registry.models import Grant, Resource, User

ALL_RIGHTS = frozenset({"use", "modify", "own"})


def rights(session: Session, resource: Resource, user: User | None) -> frozenset[str]:
    """The caller's rights: the owner and admins have all; grants to the user or to everyone add more."""
    return rights_on_many(session, [resource], user)[resource.id]


def rights_on_many(session: Session, resources: list[Resource], user: User | None) -> dict[str, frozenset[str]]:
    """`rights` for many resources in at most one query: resource id → the caller's rights."""
    if user is not None and user.is_admin:
        return {resource.id: ALL_RIGHTS for resource in resources}
    owned = {resource.id for resource in resources if user is not None and resource.owner_id == user.id}
    others = [resource.id for resource in resources if resource.id not in owned]
    granted: dict[str, set[str]] = defaultdict(set)
    if others:
        query = select(Grant.resource_id, Grant.permission).where(
            col(Grant.resource_id).in_(others), grants_reaching(user)
        )
        for resource_id, permission in session.exec(query).all():
            granted[resource_id].add(permission)
    return {
        resource.id: ALL_RIGHTS if resource.id in owned else implied_rights(granted[resource.id])
        for resource in resources
    }


def grants_reaching(user: User | None) -> ColumnElement[bool]:
    """Grants that apply to the caller: those to everyone, and those to the caller by name."""
    grantees: list[ColumnElement[bool]] = [col(Grant.grantee_id).is_(None)]
    if user is not None:
        grantees.append(col(Grant.grantee_id) == user.id)
    return or_(*grantees)


def implied_rights(granted: Iterable[str]) -> frozenset[str]:
    """Granted rights plus what they imply: modify implies use (who may publish a version may run it)."""
    found = set(granted)
    if "modify" in found:
        found.add("use")
    return frozenset(found)


def visible(resource: Resource, granted: frozenset[str]) -> bool:
    return resource.visibility == "public" or bool(granted)


def resource_for(session: Session, *, name: str, user: User | None, need: str | None = None) -> Resource:
    """The named resource if the caller may see it (else NotFound) and holds `need` (else Forbidden)."""
    resource = session.exec(select(Resource).where(Resource.name == name)).first()
    if resource is None:
        raise NotFound(f"no resource named {name!r}; list what you can see at GET /api/v1/resources")
    granted = rights(session, resource, user)
    if not visible(resource, granted):
        raise NotFound(f"no resource named {name!r}; list what you can see at GET /api/v1/resources")
    if need is not None and need not in granted:
        raise Forbidden(
            f"you lack the {need!r} right on {name!r}; ask the owner with "
            f"POST /api/v1/resources/{name}/access-requests",
        )
    return resource
