"""Groups: a lab or a class that grants and access requests may name.

The creator is the group's owner and its first maintainer. Maintainers add and remove members and change
their roles; members see the group and its members; anyone signed in may grant a right to a group by name
(as to a user). Membership is read live by `registry.rights.grants_reaching`: a member removed from a group
loses what the group was granted on the next request, and a task of theirs not yet past init fails there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.models import AccessRequest, DatasetAccessRequest, DatasetGrant, Grant, Group, GroupMember, User
from registry.schemas import check_slug
from registry.users import get_user_by_name

GroupRole = Literal["member", "maintainer"]


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A slug, unique among groups: lowercase letters, digits and '-'.")
    title: str = Field(default="", max_length=200)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        return check_slug(value)


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    role: GroupRole = "member"


class MemberPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    username: str
    role: str
    added_at: datetime


class GroupPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    title: str
    owner: str
    your_role: str | None = Field(description="member, maintainer, or null (an admin who is not a member).")
    members: list[MemberPublic]
    created_at: datetime


def group_by_name(session: Session, name: str) -> Group | None:
    return session.exec(select(Group).where(Group.name == name)).first()


def role_in(session: Session, group: Group, user: User) -> str | None:
    return session.exec(
        select(GroupMember.role).where(GroupMember.group_id == group.id, GroupMember.user_id == user.id)
    ).first()


def group_for(session: Session, *, name: str, user: User, need: GroupRole = "member") -> Group:
    """The group if the caller is a member (else NotFound) holding `need` (else Forbidden); admins: any."""
    group = group_by_name(session, name)
    missing = f"no group named {name!r} that you belong to; list yours at GET /api/v1/groups"
    if group is None:
        raise NotFound(missing)
    if user.is_admin:
        return group
    role = role_in(session, group, user)
    if role is None:
        raise NotFound(missing)
    if need == "maintainer" and role != "maintainer":
        raise Forbidden(f"only a maintainer of {name!r} may do this; ask one of its maintainers")
    return group


def group_to_grant(session: Session, name: str) -> Group:
    """A group named in a grant or an access request (anyone may name one, as a user name)."""
    group = group_by_name(session, name)
    if group is None:
        raise InvalidInput(f"no group named {name!r}; check the name with a member of the group", field="group")
    return group


def create_group(session: Session, *, owner: User, spec: GroupCreate) -> Group:
    if group_by_name(session, spec.name) is not None:
        raise Conflict(f"a group named {spec.name!r} exists; choose another name", field="name")
    group = Group(name=spec.name, title=spec.title or spec.name, owner_id=owner.id)
    session.add(group)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"a group named {spec.name!r} exists; choose another name", field="name") from error
    session.add(GroupMember(group_id=group.id, user_id=owner.id, role="maintainer", added_by=owner.id))
    session.flush()
    return group


def set_member(session: Session, *, group: Group, spec: MemberCreate, actor: User) -> GroupMember:
    """Add a member, or change a member's role."""
    member = get_user_by_name(session, spec.username)
    if member is None:
        raise InvalidInput(f"no user named {spec.username!r}", field="username")
    found = session.exec(
        select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == member.id)
    ).first()
    if found is not None:
        if found.role != spec.role:
            _keep_the_owner(group, found)
            _keep_a_maintainer(session, group, leaving=found if spec.role != "maintainer" else None)
            found.role = spec.role
            session.add(found)
            session.flush()
        return found
    created = GroupMember(group_id=group.id, user_id=member.id, role=spec.role, added_by=actor.id)
    session.add(created)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"{spec.username!r} was added at the same moment; reload the group") from error
    return created


def remove_member(session: Session, *, group: Group, username: str) -> None:
    member = get_user_by_name(session, username)
    found = (
        session.exec(
            select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == member.id)
        ).first()
        if member is not None
        else None
    )
    if found is None:
        raise NotFound(f"{username!r} is not a member of {group.name!r}")
    _keep_the_owner(group, found)
    _keep_a_maintainer(session, group, leaving=found)
    session.delete(found)
    session.flush()


def _keep_the_owner(group: Group, member: GroupMember) -> None:
    """The group's owner stays one of its maintainers: no maintainer may take the group from its creator."""
    if member.user_id == group.owner_id:
        raise Conflict(
            f"the owner of {group.name!r} stays its maintainer; they may delete the group, nobody may remove them"
        )


def _keep_a_maintainer(session: Session, group: Group, *, leaving: GroupMember | None) -> None:
    if leaving is None or leaving.role != "maintainer":
        return
    maintainers = session.exec(
        select(func.count())
        .select_from(GroupMember)
        .where(GroupMember.group_id == group.id, GroupMember.role == "maintainer")
    ).one()
    if maintainers <= 1:
        raise Conflict(f"{group.name!r} needs at least one maintainer; make someone else a maintainer first")


def delete_group(session: Session, *, group: Group) -> None:
    """Delete the group, its memberships and every grant and pending request naming it."""
    for table in (Grant, DatasetGrant, AccessRequest, DatasetAccessRequest):
        session.exec(delete(table).where(col(table.group_id) == group.id))
    session.exec(delete(GroupMember).where(col(GroupMember.group_id) == group.id))
    session.delete(group)
    session.flush()


def members_of(session: Session, group: Group) -> list[User]:
    query = select(User).join(GroupMember, col(GroupMember.user_id) == col(User.id))
    return list(session.exec(query.where(GroupMember.group_id == group.id)).all())


def groups_of(session: Session, user: User) -> list[Group]:
    query = select(Group).join(GroupMember, col(GroupMember.group_id) == col(Group.id))
    return list(session.exec(query.where(GroupMember.user_id == user.id).order_by(col(Group.name))).all())
