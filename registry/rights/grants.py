"""Grants on a resource or a dataset (one table each, one set of functions for both): to a user, to a group,
or to everyone ('*'); `use` or `modify`. Each records who gave it and when."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col

from commons.errors import InvalidInput, NotFound
from registry.audit import record
from registry.groups import group_to_grant
from registry.models import AccessRequest, Dataset, DatasetAccessRequest, Group, Resource, User
from registry.rights.bounds import check_audience
from registry.rights.items import NO_GRANT, GrantRow, Item, RequestRow, granted_item_id, one_item, protected
from registry.schemas import GrantCreate
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


def grant_on(session: Session, item: Item, *, grantee: Grantee, permission: str, actor: User) -> GrantRow:
    """Grant `permission` on a resource or a dataset (one grant per grantee and right); refused beyond a
    bound derivative's sources' audience (see `registry.rights.bounds.check_audience`)."""
    check_audience(session, item, grantee=grantee.user, group=grantee.group)
    spec = protected(item)
    user_id = grantee.user.id if grantee.user is not None else None
    group_id = grantee.group.id if grantee.group is not None else None
    existing = session.exec(
        spec.grants_on(item.id).where(
            col(spec.grants.permission) == permission,
            col(spec.grants.grantee_id).is_(None) if user_id is None else col(spec.grants.grantee_id) == user_id,
            col(spec.grants.group_id).is_(None) if group_id is None else col(spec.grants.group_id) == group_id,
        )
    ).first()
    if existing is not None:
        return existing
    created = spec.new_grant(item.id, user_id=user_id, group_id=group_id, permission=permission, by=actor.id)
    session.add(created)
    session.flush()
    return created


def grant(
    session: Session,
    *,
    resource: Resource | None = None,
    dataset: Dataset | None = None,
    username: str | None,
    permission: str,
    actor: User,
    group: str | None = None,
) -> GrantRow:
    """Grant `permission` on a resource or a dataset to `username` ('*': everyone) or to `group`."""
    grantee = grantee_for(session, username=username, group=group)
    return grant_on(session, one_item(resource, dataset), grantee=grantee, permission=permission, actor=actor)


def create_grant(session: Session, item: Item, spec: GrantCreate, *, actor: User, address: str | None) -> GrantRow:
    """POST …/grants: grant what `spec` asks on `item` and record it in the audit trail."""
    grantee = grantee_for(session, username=spec.username, group=spec.group)
    created = grant_on(session, item, grantee=grantee, permission=spec.permission, actor=actor)
    detail = {"grant": created.id, "to": grantee.label, "permission": spec.permission}
    record(session, actor=actor, action="grant.create", target=item, detail=detail, address=address)
    return created


def list_grants(session: Session, item: Item) -> list[GrantRow]:
    spec = protected(item)
    return list(session.exec(spec.grants_on(item.id).order_by(col(spec.grants.created_at), col(spec.grants.id))))


def revoke(
    session: Session, *, resource: Resource | None = None, dataset: Dataset | None = None, grant_id: str
) -> dict[str, str]:
    """Delete the grant on the resource or the dataset; returns what it was (for the audit trail)."""
    return revoke_on(session, one_item(resource, dataset), grant_id)


def revoke_on(session: Session, item: Item, grant_id: str) -> dict[str, str]:
    spec = protected(item)
    found = spec.find_grant(session, grant_id)
    if found is None or granted_item_id(found) != item.id:
        raise NotFound(NO_GRANT[spec.kind].format(grant_id=grant_id, name=item.name, id=item.id))
    revoked = revoked_detail(session, found)
    session.delete(found)
    session.flush()
    return revoked


def delete_grant(session: Session, item: Item, grant_id: str, *, actor: User, address: str | None) -> None:
    """DELETE …/grants/{grant_id}: revoke the grant and record what it was in the audit trail."""
    revoked = revoke_on(session, item, grant_id)
    record(session, actor=actor, action="grant.revoke", target=item, detail=revoked, address=address)


def grantee_names(session: Session, item: GrantRow | RequestRow) -> tuple[str | None, str | None]:
    """(user name or '*', None) of a grant or a request to a user or everyone; (None, group name) for a group."""
    if item.group_id is not None:
        group = session.get(Group, item.group_id)
        return None, group.name if group else ""
    user_id = item.requester_id if isinstance(item, AccessRequest | DatasetAccessRequest) else item.grantee_id
    user = session.get(User, user_id) if user_id else None
    return (user.username if user else EVERYONE), None


def revoked_detail(session: Session, item: GrantRow) -> dict[str, str]:
    username, group = grantee_names(session, item)
    return {"grant": item.id, "from": f"group {group}" if group else str(username), "permission": item.permission}
