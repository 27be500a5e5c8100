"""Users, tokens, visibility, grants and access requests on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.event import listen, remove
from sqlmodel import Session

from commons.db import get_engine
from commons.errors import Conflict, Forbidden, NotFound, Unauthorized
from registry import rights as grant_rows
from registry.models import ResourceVersion
from registry.resources import create_resource, list_visible
from registry.rights import record_lineage, resource_for, rights
from registry.schemas import ResourceCreate
from registry.users import authenticate, create_user, issue_token, user_from_token
from registry.views.resources import resource_view as to_public
from registry.views.resources import resource_views as to_public_many

SECRET = "test-secret-key-for-tokens-0123456789"


def make(session: Session, name: str):
    return create_user(session, username=name, password="a long password")


def test_password_is_hashed_and_checked(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        user = make(session, "alice")
        assert user.password_hash.startswith("$argon2")
        assert "a long password" not in user.password_hash
        assert authenticate(session, username="alice", password="a long password").id == user.id
        with pytest.raises(Unauthorized, match="wrong user name or password"):
            authenticate(session, username="alice", password="wrong password")
        with pytest.raises(Unauthorized):
            authenticate(session, username="nobody", password="a long password")
        with pytest.raises(Conflict, match="taken"):
            make(session, "alice")


def test_tokens_expire(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        user = make(session, "bob")
        session.commit()
        token = issue_token(user, secret_key=SECRET, expire_minutes=1)
        assert user_from_token(session, token, secret_key=SECRET).id == user.id
        with pytest.raises(Unauthorized, match="not valid"):
            user_from_token(session, token, secret_key="another-secret-key-0123456789abcdef")
        expired = issue_token(user, secret_key=SECRET, expire_minutes=-1)
        with pytest.raises(Unauthorized, match="expired"):
            user_from_token(session, expired, secret_key=SECRET)


def test_visibility_grants_and_requests(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        owner, reader, other = make(session, "owner"), make(session, "reader"), make(session, "other")
        private = create_resource(
            session,
            owner=owner,
            spec=ResourceCreate(name="secret-sam", kind="segmenter.sam", title="Private", visibility="private"),
        )
        public = create_resource(
            session,
            owner=owner,
            spec=ResourceCreate(name="open-sam", kind="segmenter.sam", title="Public", visibility="public"),
        )
        session.commit()

        assert {r.name for r in list_visible(session, reader, limit=50, offset=0)} == {"open-sam"}
        assert {r.name for r in list_visible(session, None, limit=50, offset=0)} == {"open-sam"}
        assert {r.name for r in list_visible(session, owner, limit=50, offset=0)} == {"open-sam", "secret-sam"}
        with pytest.raises(NotFound):
            resource_for(session, name="secret-sam", user=reader)
        with pytest.raises(Forbidden, match="access-requests"):
            resource_for(session, name="open-sam", user=reader, need="use")
        assert rights(session, public, owner) >= {"use", "modify", "own"}

        grant_rows.grant(session, resource=private, username="reader", permission="use", actor=owner)
        assert resource_for(session, name="secret-sam", user=reader, need="use") == private
        with pytest.raises(Forbidden):
            resource_for(session, name="secret-sam", user=reader, need="modify")
        with pytest.raises(NotFound):
            resource_for(session, name="secret-sam", user=other)

        everyone = grant_rows.grant(session, resource=public, username="*", permission="use", actor=owner)
        assert "use" in rights(session, public, other)
        assert "use" in rights(session, public, None)
        grant_rows.revoke(session, resource=public, grant_id=everyone.id)
        assert "use" not in rights(session, public, other)

        asked = grant_rows.request_access(
            session, resource=public, requester=other, permission="modify", message="I fine-tuned it"
        )
        with pytest.raises(Conflict, match="already asked"):
            grant_rows.request_access(session, resource=public, requester=other, permission="modify", message="")
        pending = grant_rows.list_requests(session, resource=public, viewer=owner, is_owner=True, status="pending")
        assert [r.id for r in pending] == [asked.id]
        assert grant_rows.list_requests(session, resource=public, viewer=reader, is_owner=False, status=None) == []
        decided = grant_rows.decide(session, resource=public, request_id=asked.id, approve=True, actor=owner)
        assert decided.status == "approved" and decided.decided_by == owner.id and decided.decided_at is not None
        assert {"use", "modify"} <= rights(session, public, other)
        with pytest.raises(Conflict, match="already approved"):
            grant_rows.decide(session, resource=public, request_id=asked.id, approve=False, actor=owner)

        denied = grant_rows.request_access(session, resource=public, requester=reader, permission="use", message="")
        grant_rows.decide(session, resource=public, request_id=denied.id, approve=False, actor=owner)
        assert "use" not in rights(session, public, reader)
        session.commit()


def test_resource_names_are_unique(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        owner = make(session, "carol")
        spec = ResourceCreate(name="dup", kind="segmenter.sam", title="x")
        create_resource(session, owner=owner, spec=spec)
        with pytest.raises(Conflict, match="you already have a resource named 'dup'"):
            create_resource(session, owner=owner, spec=spec)
        other = create_resource(session, owner=make(session, "erin"), spec=spec)  # unique per owner only
        assert other.name == "dup"


def test_timestamps_are_utc(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        before = time.time()
        user = make(session, "dave")
        session.commit()
        assert abs(user.created_at.timestamp() - before) < 60


LIST_QUERIES = 12  # owners, latest versions, grants, lineage, sources and their grants and owners


def test_listing_views_match_one_by_one_views_in_a_fixed_number_of_queries(database_url: str) -> None:
    """`to_public_many` (the list route) gives each resource the same view as `to_public` and `rights`, for the
    owner, a grantee, a stranger, an admin and no one, in a fixed number of queries whatever the count, with
    the derivation bounds included (model-5 is made from model-1, owner's private model)."""
    engine = get_engine(database_url)
    with Session(engine) as session:
        owner, grantee, stranger = make(session, "owner"), make(session, "grantee"), make(session, "stranger")
        admin = create_user(session, username="admin", password="a long password", is_admin=True)
        made = []
        for index, visibility in enumerate(["public", "private", "private", "public", "private", "private"]):
            spec = ResourceCreate(name=f"model-{index}", kind="segmenter.sam", title=f"M{index}", visibility=visibility)
            made.append(create_resource(session, owner=owner if index < 4 else grantee, spec=spec))
        for number in (1, 2, 3):  # model-0 has three versions, model-1 one, the others none
            version = ResourceVersion(resource_id=made[0].id, number=number, digest=f"d{number}", created_by=owner.id)
            session.add(version)
        session.add(ResourceVersion(resource_id=made[1].id, number=1, digest="e1", created_by=owner.id))
        grant_rows.grant(session, resource=made[1], username="grantee", permission="modify", actor=owner)
        grant_rows.grant(session, resource=made[2], username="*", permission="use", actor=owner)
        record_lineage(session, item=made[5], sources=[made[1]], task_id=None)
        grant_rows.grant(session, resource=made[4], username="stranger", permission="use", actor=grantee)
        session.commit()
        statements: list[str] = []

        def record(*args: object) -> None:
            statements.append(str(args[2]))

        for viewer in (owner, grantee, stranger, admin, None):
            resources = list_visible(session, viewer, limit=50, offset=0)
            statements.clear()
            listen(engine, "before_cursor_execute", record)
            try:
                many = to_public_many(session, resources, viewer)
            finally:
                remove(engine, "before_cursor_execute", record)
            assert len(statements) <= LIST_QUERIES, statements
            assert many == [to_public(session, resource, viewer) for resource in resources]
            # twice the length, the same number of queries
            statements.clear()
            listen(engine, "before_cursor_execute", record)
            try:
                to_public_many(session, resources + resources, viewer)
            finally:
                remove(engine, "before_cursor_execute", record)
            assert len(statements) <= LIST_QUERIES, statements
            for resource, view in zip(resources, many, strict=True):
                assert set(view.permissions) == rights(session, resource, viewer)
        by_name = {view.name: view for view in to_public_many(session, made, grantee)}
        assert by_name["model-0"].latest_version == 3 and by_name["model-1"].latest_version == 1
        assert by_name["model-2"].latest_version is None
        assert by_name["model-1"].permissions == ["modify", "use"], "modify implies use"
        assert by_name["model-2"].permissions == ["use"] and by_name["model-3"].permissions == []
        assert by_name["model-4"].permissions == ["modify", "own", "use"] and by_name["model-4"].owner == "grantee"
        assert by_name["model-5"].sources[0].name == "model-1" and by_name["model-5"].sources[0].binds
        # model-5 (grantee's) is bound by owner's private model-1: the stranger may not list it, the owner may
        assert "model-5" not in {r.name for r in list_visible(session, stranger, limit=50, offset=0)}
        assert "model-4" in {r.name for r in list_visible(session, stranger, limit=50, offset=0)}
