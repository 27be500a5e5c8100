"""Groups as the API shows them: the owner and members by name, the viewer's role."""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.groups import GroupPublic, MemberPublic, role_in
from registry.models import Group, GroupMember, User
from registry.views.base import view


def group_view(session: Session, group: Group, viewer: User) -> GroupPublic:
    rows = session.exec(
        select(GroupMember, User.username)
        .join(User, col(User.id) == col(GroupMember.user_id))
        .where(GroupMember.group_id == group.id)
        .order_by(col(User.username))
    ).all()
    owner = session.get(User, group.owner_id)
    return view(
        GroupPublic,
        group,
        owner=owner.username if owner else "",
        your_role=role_in(session, group, viewer),
        members=[view(MemberPublic, member, username=name, added_at=member.created_at) for member, name in rows],
    )
