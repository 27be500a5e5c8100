"""Names under their owner on SQLite and PostgreSQL: unique per owner, addressed as owner/name, old bare names
still answered when they are not ambiguous, and nothing told about a name someone else uses privately."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from commons.db import get_engine
from commons.errors import Conflict, NotFound
from registry import rights as grant_rows
from registry.models import Resource, User
from registry.resources import create_resource
from registry.rights import find_resource, resource_for
from registry.schemas import ResourceCreate
from registry.trained_versions import resolve_target
from registry.users import create_user


def user(session: Session, name: str) -> User:
    return create_user(session, username=name, password="a long password")


def model(session: Session, owner: User, name: str, visibility: str = "private") -> Resource:
    spec = ResourceCreate(name=name, kind="classifier.resnet", title=name, visibility=visibility)
    return create_resource(session, owner=owner, spec=spec)


def test_names_live_under_their_owner(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        alice, bob, carol = user(session, "alice"), user(session, "bob"), user(session, "carol")
        private = model(session, alice, "digits")
        theirs = model(session, bob, "digits")  # no 409: alice's private name tells bob nothing
        assert private.id != theirs.id
        with pytest.raises(Conflict, match="you already have a resource named 'digits'"):
            model(session, alice, "digits")
        assert resource_for(session, name="alice/digits", user=alice).id == private.id
        with pytest.raises(NotFound):
            resource_for(session, name="alice/digits", user=bob)
        # a bare name: the caller's own first, else the one they can see
        assert find_resource(session, ref="digits", user=alice).id == private.id
        assert find_resource(session, ref="digits", user=bob).id == theirs.id
        with pytest.raises(NotFound):
            resource_for(session, name="digits", user=carol)
        grant_rows.grant(session, resource=private, username="carol", permission="use", actor=alice)
        grant_rows.grant(session, resource=theirs, username="carol", permission="use", actor=bob)
        with pytest.raises(Conflict, match=r"alice/digits, bob/digits"):
            find_resource(session, ref="digits", user=carol)
        assert resource_for(session, name="bob/digits", user=carol).id == theirs.id
        with pytest.raises(NotFound):
            resource_for(session, name="nobody/digits", user=carol)


def test_publish_as_names_a_resource_of_ones_own(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        alice, bob = user(session, "alice"), user(session, "bob")
        source = model(session, alice, "digits", visibility="public")
        model(session, alice, "secret-name")
        # bob's publish_as is in bob's namespace: alice's private "secret-name" neither blocks nor leaks
        target = resolve_target(session, user=bob, source=source, publish_as="secret-name")
        assert target.existing is None and target.name == "secret-name"
        # the source's own name means bob's own resource of that name when bob may not modify the source
        assert resolve_target(session, user=bob, source=source, publish_as="digits").existing is None
        grant_rows.grant(session, resource=source, username="bob", permission="modify", actor=alice)
        assert resolve_target(session, user=bob, source=source, publish_as="digits").existing == source
