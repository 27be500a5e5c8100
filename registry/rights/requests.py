"""Access requests: a caller asks a resource's owner for a right (for themselves, or for a group they
maintain); the owner approves (a grant) or denies. Every decision records who and when; the owner hears of a
request and the requester of its answer in their inbox (registry.notification_events)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, NotFound
from registry.clock import utcnow
from registry.groups import group_to_grant, role_in
from registry.models import AccessRequest, Group, Resource, User
from registry.notification_events import access_decided, access_requested
from registry.rights.decision import access
from registry.rights.grants import Grantee, grant_on


def request_target(session: Session, resource: Resource, requester: User) -> Resource:
    """The resource a request on `resource` should go to. Someone who sees it only as the maker of a bound
    derivative needs the right on the source that binds it, from that source's owner: asking the
    derivative's owner (often themselves) could never help. A binding dataset takes no requests: Conflict
    saying whom to ask."""
    blocked = access(session, resource, requester).blocked_by
    if not blocked:
        return resource
    source = blocked[0]
    if isinstance(source, Resource):
        return source
    owner = session.get(User, source.owner_id)
    raise Conflict(
        f"{resource.name!r} is made from dataset {source.name!r}, which you cannot read; ask "
        f"{owner.username if owner else 'its owner'} to share that dataset with you (a grant to your user name)"
    )


def request_access(
    session: Session,
    *,
    resource: Resource,
    requester: User,
    permission: str,
    message: str,
    group: str | None = None,
) -> AccessRequest:
    """Ask the owner for `permission`, for oneself or (`group`) for a group one maintains."""
    on_behalf = None
    if group is not None:
        on_behalf = group_to_grant(session, group)
        if role_in(session, on_behalf, requester) != "maintainer":
            raise Forbidden(f"only a maintainer of group {group!r} may ask for it", field="group")
    pending = session.exec(
        select(AccessRequest).where(
            AccessRequest.resource_id == resource.id,
            AccessRequest.requester_id == requester.id,
            AccessRequest.permission == permission,
            AccessRequest.status == "pending",
            col(AccessRequest.group_id).is_(None) if on_behalf is None else AccessRequest.group_id == on_behalf.id,
        )
    ).first()
    if pending is not None:
        raise Conflict(f"you already asked for {permission!r} on {resource.name!r}; wait for the owner's answer")
    created = AccessRequest(
        resource_id=resource.id,
        requester_id=requester.id,
        group_id=on_behalf.id if on_behalf else None,
        permission=permission,
        message=message,
    )
    session.add(created)
    session.flush()
    access_requested(session, request=created, resource=resource, requester=requester)
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
    """Approve (grant what was asked, to the requester or their group) or deny a pending request."""
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
        grant_on(session, resource, grantee=_asked_for(session, found), permission=found.permission, actor=actor)
    session.flush()
    access_decided(session, request=found, resource=resource, actor=actor)
    return found


def _asked_for(session: Session, request: AccessRequest) -> Grantee:
    """Whom an approved request grants to: the requester, or the group they asked for."""
    requester = session.get(User, request.requester_id)
    if requester is None:
        raise NotFound("the requesting user no longer exists")
    on_behalf = session.get(Group, request.group_id) if request.group_id else None
    if request.group_id is not None and on_behalf is None:
        raise NotFound("the group this request names no longer exists")
    return Grantee(group=on_behalf) if on_behalf is not None else Grantee(user=requester)
