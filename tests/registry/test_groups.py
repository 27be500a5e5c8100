"""Groups on SQLite and PostgreSQL: grants to a group reach its members while they are members, access
requests on behalf of a group, the derivation bounds for a group's audience."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from commons.db import get_engine
from commons.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry import rights as grant_rows
from registry.groups import GroupCreate, MemberCreate, create_group, delete_group, group_for, remove_member, set_member
from registry.models import User
from registry.resources import create_resource
from registry.rights import record_lineage, rights
from registry.schemas import ResourceCreate
from registry.users import create_user
from registry.views.grants import grant_view


def user(session: Session, name: str) -> User:
    return create_user(session, username=name, password="a long password")


def test_a_group_grant_reaches_members_while_they_are_members(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        provider, lead, student, outsider = (user(session, n) for n in ("provider", "lead", "student", "outsider"))
        lab = create_group(session, owner=lead, spec=GroupCreate(name="vision-lab", title="Vision lab"))
        set_member(session, group=lab, spec=MemberCreate(username="student"), actor=lead)
        model = create_resource(
            session, owner=provider, spec=ResourceCreate(name="private-model", kind="classifier.resnet", title="P")
        )
        grant_rows.grant(session, resource=model, username=None, group="vision-lab", permission="use", actor=provider)
        assert rights(session, model, student) == {"use"} and rights(session, model, lead) == {"use"}
        assert rights(session, model, outsider) == frozenset()
        # a user grant and a group grant on the same item: leaving the group keeps the user grant
        grant_rows.grant(session, resource=model, username="student", permission="modify", actor=provider)
        remove_member(session, group=lab, username="student")
        assert rights(session, model, student) == {"use", "modify"}
        grant = next(g for g in grant_rows.list_grants(session, model) if g.grantee_id == student.id)
        grant_rows.revoke(session, resource=model, grant_id=grant.id)
        assert rights(session, model, student) == frozenset(), "removed from the group: the right goes at once"
        with pytest.raises(NotFound):
            group_for(session, name="vision-lab", user=student)
        shown = grant_view(session, grant_rows.list_grants(session, model)[0])
        assert shown.group == "vision-lab" and shown.username is None
        # deleting the group deletes what it was granted
        delete_group(session, group=lab)
        assert grant_rows.list_grants(session, model) == []
        assert rights(session, model, lead) == frozenset()


def test_maintainers_manage_and_one_always_remains(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        lead, student = user(session, "lead"), user(session, "student")
        lab = create_group(session, owner=lead, spec=GroupCreate(name="class-2026"))
        set_member(session, group=lab, spec=MemberCreate(username="student"), actor=lead)
        with pytest.raises(Forbidden, match="only a maintainer"):
            group_for(session, name="class-2026", user=student, need="maintainer")
        with pytest.raises(Conflict, match="stays its maintainer"):
            remove_member(session, group=lab, username="lead")
        with pytest.raises(Conflict, match="stays its maintainer"):
            set_member(session, group=lab, spec=MemberCreate(username="lead", role="member"), actor=lead)
        set_member(session, group=lab, spec=MemberCreate(username="student", role="maintainer"), actor=lead)
        # a maintainer cannot take the group from its owner (seen: a maintainer removed the owner, who then
        # could neither see nor delete their group, and added an outsider to the group's grants)
        with pytest.raises(Conflict, match="stays its maintainer"):
            remove_member(session, group=lab, username="lead")
        user(session, "assistant")
        set_member(session, group=lab, spec=MemberCreate(username="assistant", role="maintainer"), actor=student)
        remove_member(session, group=lab, username="assistant")  # other maintainers come and go
        assert group_for(session, name="class-2026", user=lead, need="maintainer") == lab
        with pytest.raises(Conflict, match="exists"):
            create_group(session, owner=student, spec=GroupCreate(name="class-2026"))
        with pytest.raises(InvalidInput, match="no user named"):
            set_member(session, group=lab, spec=MemberCreate(username="nobody"), actor=student)


def test_access_requests_for_a_group_and_bounds_for_its_audience(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        provider, lead, student, outsider = (user(session, n) for n in ("provider", "lead", "student", "outsider"))
        lab = create_group(session, owner=lead, spec=GroupCreate(name="vision-lab"))
        set_member(session, group=lab, spec=MemberCreate(username="student"), actor=lead)
        model = create_resource(
            session, owner=provider, spec=ResourceCreate(name="private-model", kind="classifier.resnet", title="P")
        )
        with pytest.raises(Forbidden, match="only a maintainer"):
            grant_rows.request_access(
                session, resource=model, requester=student, permission="use", message="", group="vision-lab"
            )
        asked = grant_rows.request_access(
            session, resource=model, requester=lead, permission="use", message="for the lab", group="vision-lab"
        )
        grant_rows.decide(session, resource=model, request_id=asked.id, approve=True, actor=provider)
        assert rights(session, model, student) == {"use"}
        # the student's copy may be shared with the lab (every member may read the source) ...
        copy = create_resource(
            session, owner=student, spec=ResourceCreate(name="student-copy", kind="classifier.resnet", title="C")
        )
        record_lineage(session, item=copy, sources=[model], task_id=None)
        grant_rows.grant(session, resource=copy, username=None, group="vision-lab", permission="use", actor=student)
        assert rights(session, copy, lead) == {"use"}
        # ... but not with a group that has a member outside the source's audience
        other = create_group(session, owner=student, spec=GroupCreate(name="friends"))
        set_member(session, group=other, spec=MemberCreate(username="outsider"), actor=student)
        with pytest.raises(Conflict, match="group 'friends'"):
            grant_rows.grant(session, resource=copy, username=None, group="friends", permission="use", actor=student)
        # a member added to the lab later, who cannot read the source otherwise, reads it through the lab
        set_member(session, group=lab, spec=MemberCreate(username="outsider"), actor=lead)
        assert rights(session, copy, outsider) == {"use"}
        remove_member(session, group=lab, username="outsider")
        assert rights(session, copy, outsider) == frozenset()
