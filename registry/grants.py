"""Grants and access requests; every decision records who and when."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.clock import utcnow
from registry.groups import group_to_grant, role_in
from registry.models import AccessRequest, Dataset, DatasetGrant, Grant, Group, Resource, User
from registry.rights import access, check_audience
from registry.schemas import AccessRequestPublic, GrantPublic
from registry.users import get_user_by_name

EVERYONE = "*"


@dataclass(frozen=True)
class Grantee:
    """Who a grant or an access request names: a user, a group, or (both None) everyone."""

    user: User | None = None
    group: Group | None = None

    @property
    def label(self) -> str:
        if self.group is not None:
            return f"group {self.group.name}"
        return self.user.username if self.user is not None else EVERYONE


def grantee_for(session: Session, *, username: str | None, group: str | None = None) -> Grantee:
    """The grantee a request names; an unknown user or group is refused."""
    if group is not None:
        return Grantee(group=group_to_grant(session, group))
    if username is None or username == EVERYONE:
        return Grantee()
    user = get_user_by_name(session, username)
    if user is None:
        raise InvalidInput(f"no user named {username!r}; use '*' to grant to everyone", field="username")
    return Grantee(user=user)


def grant_on(
    session: Session, item: Resource | Dataset, *, grantee: Grantee, permission: str, actor: User
) -> Grant | DatasetGrant:
    """Grant `permission` on a resource or a dataset (one grant per grantee and right); refused beyond a
    bound derivative's sources' audience (see `registry.rights.check_audience`)."""
    check_audience(session, item, grantee=grantee.user, group=grantee.group)
    table: type[Grant] | type[DatasetGrant] = Grant if isinstance(item, Resource) else DatasetGrant
    key = col(Grant.resource_id) if table is Grant else col(DatasetGrant.dataset_id)
    user_id = grantee.user.id if grantee.user is not None else None
    group_id = grantee.group.id if grantee.group is not None else None
    existing = session.exec(
        select(table).where(
            key == item.id,
            col(table.permission) == permission,
            col(table.grantee_id).is_(None) if user_id is None else col(table.grantee_id) == user_id,
            col(table.group_id).is_(None) if group_id is None else col(table.group_id) == group_id,
        )
    ).first()
    if isinstance(existing, Grant | DatasetGrant):
        return existing
    created: Grant | DatasetGrant
    if isinstance(item, Resource):
        created = Grant(
            resource_id=item.id, grantee_id=user_id, group_id=group_id, permission=permission, created_by=actor.id
        )
    else:
        created = DatasetGrant(
            dataset_id=item.id, grantee_id=user_id, group_id=group_id, permission=permission, created_by=actor.id
        )
    session.add(created)
    session.flush()
    return created


def grant(
    session: Session,
    *,
    resource: Resource,
    username: str | None,
    permission: str,
    actor: User,
    group: str | None = None,
) -> Grant | DatasetGrant:
    """Grant `permission` on a resource to `username` ('*': everyone) or to `group`."""
    return grant_named(session, resource, username=username, group=group, permission=permission, actor=actor)


def grant_named(
    session: Session, item: Resource | Dataset, *, username: str | None, group: str | None, permission: str, actor: User
) -> Grant | DatasetGrant:
    """`grant_on` for a grantee given by name (a user, '*', or a group)."""
    grantee = grantee_for(session, username=username, group=group)
    return grant_on(session, item, grantee=grantee, permission=permission, actor=actor)


def list_grants(session: Session, resource: Resource) -> list[Grant]:
    return list(session.exec(select(Grant).where(Grant.resource_id == resource.id).order_by(col(Grant.created_at))))


def revoke(session: Session, *, resource: Resource, grant_id: str) -> dict[str, str]:
    """Delete the grant; returns what it was (for the audit trail)."""
    found = session.get(Grant, grant_id)
    if found is None or found.resource_id != resource.id:
        raise NotFound(f"no grant {grant_id!r} on {resource.name!r}; list them at GET …/grants")
    revoked = revoked_detail(session, found)
    session.delete(found)
    session.flush()
    return revoked


def _grantee_of(session: Session, item: Grant | DatasetGrant | AccessRequest) -> tuple[str | None, str | None]:
    """(user name or '*', group name) of a grant; (None, name) for a group grant."""
    if item.group_id is not None:
        group = session.get(Group, item.group_id)
        return None, group.name if group else ""
    user_id = item.requester_id if isinstance(item, AccessRequest) else item.grantee_id
    user = session.get(User, user_id) if user_id else None
    return (user.username if user else EVERYONE), None


def revoked_detail(session: Session, item: Grant | DatasetGrant) -> dict[str, str]:
    username, group = _grantee_of(session, item)
    return {"grant": item.id, "from": f"group {group}" if group else str(username), "permission": item.permission}


def grant_public(session: Session, item: Grant | DatasetGrant) -> GrantPublic:
    """A grant on a resource or a dataset, with user and group names instead of ids."""
    username, group = _grantee_of(session, item)
    creator = session.get(User, item.created_by)
    return GrantPublic(
        id=item.id,
        username=username,
        group=group,
        permission=item.permission,
        created_by=creator.username if creator else "",
        created_at=item.created_at,
    )


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
        on_behalf = session.get(Group, found.group_id) if found.group_id else None
        if found.group_id is not None and on_behalf is None:
            raise NotFound("the group this request names no longer exists")
        grantee = Grantee(group=on_behalf) if on_behalf is not None else Grantee(user=requester)
        grant_on(session, resource, grantee=grantee, permission=found.permission, actor=actor)
    session.flush()
    return found


def request_public(session: Session, item: AccessRequest, resource: Resource) -> AccessRequestPublic:
    requester = session.get(User, item.requester_id)
    decider = session.get(User, item.decided_by) if item.decided_by else None
    owner = session.get(User, resource.owner_id)
    return AccessRequestPublic(
        id=item.id,
        resource=resource.name,
        ref=f"{owner.username if owner else ''}/{resource.name}",
        requester=requester.username if requester else "",
        group=_grantee_of(session, item)[1],
        permission=item.permission,
        message=item.message,
        status=item.status,
        created_at=item.created_at,
        decided_by=decider.username if decider else None,
        decided_at=item.decided_at,
    )
