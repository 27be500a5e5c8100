"""Groups: create one, see yours, manage members (maintainers), delete (its owner)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ClientAddress, CurrentUser, SessionDep
from commons.errors import Forbidden
from registry import groups as rows
from registry.audit import record
from registry.views.groups import group_view

router = APIRouter(prefix="/groups", tags=["groups"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=rows.GroupPublic)
def create(spec: rows.GroupCreate, user: CurrentUser, session: SessionDep, address: ClientAddress) -> rows.GroupPublic:
    """Create a group; you are its owner and first maintainer."""
    group = rows.create_group(session, owner=user, spec=spec)
    record(session, actor=user, action="group.create", target=group, address=address)
    return group_view(session, group, user)


@router.get("", response_model=list[rows.GroupPublic])
def list_mine(user: CurrentUser, session: SessionDep) -> list[rows.GroupPublic]:
    """The groups you belong to."""
    return [group_view(session, group, user) for group in rows.groups_of(session, user)]


@router.get("/{group_name}", response_model=rows.GroupPublic)
def read(group_name: str, user: CurrentUser, session: SessionDep) -> rows.GroupPublic:
    return group_view(session, rows.group_for(session, name=group_name, user=user), user)


@router.post("/{group_name}/members", response_model=rows.GroupPublic)
def set_member(
    group_name: str, spec: rows.MemberCreate, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> rows.GroupPublic:
    """Add a member (or change a member's role); maintainers only."""
    group = rows.group_for(session, name=group_name, user=user, need="maintainer")
    rows.set_member(session, group=group, spec=spec, actor=user)
    detail = {"username": spec.username, "role": spec.role}
    record(session, actor=user, action="member.add", target=group, detail=detail, address=address)
    return group_view(session, group, user)


@router.delete("/{group_name}/members/{username}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    group_name: str, username: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> None:
    """Remove a member (maintainers; anyone may leave): they lose what the group was granted at once."""
    group = rows.group_for(session, name=group_name, user=user, need="member")
    if username != user.username:
        group = rows.group_for(session, name=group_name, user=user, need="maintainer")
    rows.remove_member(session, group=group, username=username)
    record(session, actor=user, action="member.remove", target=group, detail={"username": username}, address=address)


@router.delete("/{group_name}", status_code=status.HTTP_204_NO_CONTENT)
def delete(group_name: str, user: CurrentUser, session: SessionDep, address: ClientAddress) -> None:
    """Delete the group and every grant naming it (its owner or an admin)."""
    group = rows.group_for(session, name=group_name, user=user)
    if not (user.is_admin or group.owner_id == user.id):
        raise Forbidden(f"only the owner of group {group_name!r} may delete it")
    record(session, actor=user, action="group.delete", target=group, address=address)
    rows.delete_group(session, group=group)
