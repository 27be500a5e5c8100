"""Grants and access requests; every decision records who and when."""

from __future__ import annotations

from sqlmodel import Session, col, select

from commons.errors import Conflict, InvalidInput, NotFound
from registry.clock import utcnow
from registry.models import AccessRequest, DatasetGrant, Grant, Resource, User
from registry.schemas import AccessRequestPublic, GrantPublic
from registry.users import get_user_by_name

EVERYONE = "*"


def grantee_id_for(session: Session, username: str) -> str | None:
    """The id a grant stores for `username`: None for everyone (`*`); an unknown name is refused."""
    if username == EVERYONE:
        return None
    grantee = get_user_by_name(session, username)
    if grantee is None:
        raise InvalidInput(f"no user named {username!r}; use '*' to grant to everyone", field="username")
    return grantee.id


def grant(session: Session, *, resource: Resource, username: str, permission: str, actor: User) -> Grant:
    grantee_id = grantee_id_for(session, username)
    existing = session.exec(
        select(Grant).where(
            Grant.resource_id == resource.id,
            Grant.permission == permission,
            col(Grant.grantee_id).is_(None) if grantee_id is None else col(Grant.grantee_id) == grantee_id,
        )
    ).first()
    if existing is not None:
        return existing
    created = Grant(resource_id=resource.id, grantee_id=grantee_id, permission=permission, created_by=actor.id)
    session.add(created)
    session.flush()
    return created


def list_grants(session: Session, resource: Resource) -> list[Grant]:
    return list(session.exec(select(Grant).where(Grant.resource_id == resource.id).order_by(col(Grant.created_at))))


def revoke(session: Session, *, resource: Resource, grant_id: str) -> None:
    found = session.get(Grant, grant_id)
    if found is None or found.resource_id != resource.id:
        raise NotFound(f"no grant {grant_id!r} on {resource.name!r}; list them at GET …/grants")
    session.delete(found)
    session.flush()


def grant_public(session: Session, item: Grant | DatasetGrant) -> GrantPublic:
    """A grant on a resource or a dataset, with user names instead of ids."""
    grantee = session.get(User, item.grantee_id) if item.grantee_id else None
    creator = session.get(User, item.created_by)
    return GrantPublic(
        id=item.id,
        username=grantee.username if grantee else EVERYONE,
        permission=item.permission,
        created_by=creator.username if creator else "",
        created_at=item.created_at,
    )


def request_access(
    session: Session, *, resource: Resource, requester: User, permission: str, message: str
) -> AccessRequest:
    pending = session.exec(
        select(AccessRequest).where(
            AccessRequest.resource_id == resource.id,
            AccessRequest.requester_id == requester.id,
            AccessRequest.permission == permission,
            AccessRequest.status == "pending",
        )
    ).first()
    if pending is not None:
        raise Conflict(f"you already asked for {permission!r} on {resource.name!r}; wait for the owner's answer")
    created = AccessRequest(resource_id=resource.id, requester_id=requester.id, permission=permission, message=message)
    session.add(created)
    session.flush()
    return created


def list_requests(
    session: Session, *, resource: Resource, viewer: User, is_owner: bool, status: str | None
) -> list[AccessRequest]:
    query = select(AccessRequest).where(AccessRequest.resource_id == resource.id)
    if not is_owner:
        query = query.where(AccessRequest.requester_id == viewer.id)
    if status is not None:
        query = query.where(AccessRequest.status == status)
    return list(session.exec(query.order_by(col(AccessRequest.created_at))))


def decide(session: Session, *, resource: Resource, request_id: str, approve: bool, actor: User) -> AccessRequest:
    found = session.get(AccessRequest, request_id)
    if found is None or found.resource_id != resource.id:
        raise NotFound(f"no access request {request_id!r} on {resource.name!r}")
    if found.status != "pending":
        raise Conflict(f"access request {request_id!r} was already {found.status}")
    found.status = "approved" if approve else "denied"
    found.decided_by = actor.id
    found.decided_at = utcnow()
    session.add(found)
    if approve:
        requester = session.get(User, found.requester_id)
        if requester is None:
            raise NotFound("the requesting user no longer exists")
        grant(session, resource=resource, username=requester.username, permission=found.permission, actor=actor)
    session.flush()
    return found


def request_public(session: Session, item: AccessRequest, resource: Resource) -> AccessRequestPublic:
    requester = session.get(User, item.requester_id)
    decider = session.get(User, item.decided_by) if item.decided_by else None
    return AccessRequestPublic(
        id=item.id,
        resource=resource.name,
        requester=requester.username if requester else "",
        permission=item.permission,
        message=item.message,
        status=item.status,
        created_at=item.created_at,
        decided_by=decider.username if decider else None,
        decided_at=item.decided_at,
    )
