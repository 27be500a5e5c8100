"""The rights model on SQLite and PostgreSQL: derivation bounds, owner-only policy, run-only files.

Each case is a way a provider's promise leaked before (issue 14): a `use` grantee's derivative made public or
granted on, a `modify` grantee changing visibility, a run-only model's weights handed out.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from commons.db import get_engine
from commons.errors import Conflict, Forbidden, NotFound
from registry import datasets as dataset_rows
from registry import rights as dataset_perms
from registry import rights as grant_rows
from registry.dataset_schemas import DatasetCreate, DatasetUpdate
from registry.models import Dataset, Resource, User
from registry.resources import create_resource, list_visible, update_resource
from registry.rights import (
    access,
    check_files_readable,
    may_download,
    record_lineage,
    resource_for,
    rights,
    run_only_owner,
    sources_public,
)
from registry.schemas import ResourceCreate, ResourceUpdate
from registry.trained_versions import resolve_target
from registry.users import create_user


def user(session: Session, name: str, *, admin: bool = False) -> User:
    return create_user(session, username=name, password="a long password", is_admin=admin)


def model(session: Session, owner: User, name: str, *, visibility: str = "private") -> Resource:
    spec = ResourceCreate(name=name, kind="classifier.resnet", title=name, visibility=visibility)
    return create_resource(session, owner=owner, spec=spec)


class World:
    """A provider with a private model and dataset, a `use` grantee, a `modify` grantee, a stranger, an admin."""

    def __init__(self, session: Session) -> None:
        self.provider = user(session, "provider")
        self.grantee = user(session, "grantee")
        self.editor = user(session, "editor")
        self.stranger = user(session, "stranger")
        self.admin = user(session, "admin", admin=True)
        self.private = model(session, self.provider, "private-model")
        self.data = dataset_rows.create_dataset(
            session, owner=self.provider, spec=DatasetCreate(name="private-data", classes=["a", "b"])
        )
        grant_rows.grant(session, resource=self.private, username="grantee", permission="use", actor=self.provider)
        grant_rows.grant(session, resource=self.private, username="editor", permission="modify", actor=self.provider)
        dataset_perms.grant(session, dataset=self.data, username="grantee", permission="use", actor=self.provider)
        # What the grantee made from the private model (a trained or edited copy published as their own)
        self.derived = model(session, self.grantee, "grantee-copy")
        record_lineage(session, item=self.derived, sources=[self.private], task_id=None)
        session.commit()


@pytest.fixture
def world(database_url: str) -> World:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        return World(session)


def test_a_derivative_stays_within_its_sources_audience(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        derived = session.get(Resource, world.derived.id)
        grantee, stranger = session.get(User, world.grantee.id), session.get(User, world.stranger.id)
        assert derived is not None and grantee is not None and stranger is not None
        with pytest.raises(Conflict, match="made from resource 'private-model' of provider"):
            update_resource(session, resource=derived, changes=ResourceUpdate(visibility="public"), actor=grantee)
        with pytest.raises(Conflict, match="cannot be opened to everyone"):
            grant_rows.grant(session, resource=derived, username="*", permission="use", actor=grantee)
        with pytest.raises(Conflict, match="cannot be opened to user 'stranger'"):
            grant_rows.grant(session, resource=derived, username="stranger", permission="use", actor=grantee)
        # the editor may read the source: a grant to them is within the audience
        grant_rows.grant(session, resource=derived, username="editor", permission="use", actor=grantee)
        assert rights(session, derived, session.get(User, world.editor.id)) == {"use"}
        assert "grantee-copy" not in {r.name for r in list_visible(session, stranger, limit=50, offset=0)}
        with pytest.raises(NotFound):
            resource_for(session, name="grantee-copy", user=stranger)
        with pytest.raises(NotFound):
            resource_for(session, name="grantee-copy", user=None)


def test_releasing_derivatives_or_publishing_the_source_frees_the_derivative(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        provider, grantee = session.get(User, world.provider.id), session.get(User, world.grantee.id)
        source, derived = session.get(Resource, world.private.id), session.get(Resource, world.derived.id)
        assert provider and grantee and source and derived
        update_resource(session, resource=source, changes=ResourceUpdate(derivatives="open"), actor=provider)
        update_resource(session, resource=derived, changes=ResourceUpdate(visibility="public"), actor=grantee)
        assert access(session, derived, None).visible
        # the provider closes derivatives again: the public derivative is unreadable to outsiders at once
        update_resource(session, resource=source, changes=ResourceUpdate(derivatives="private"), actor=provider)
        assert not access(session, derived, None).visible
        update_resource(session, resource=source, changes=ResourceUpdate(visibility="public"), actor=provider)
        assert access(session, derived, None).visible


def test_a_revoked_grant_makes_the_derivative_unreadable_and_deletes_nothing(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        provider, grantee = session.get(User, world.provider.id), session.get(User, world.grantee.id)
        source = session.get(Resource, world.private.id)
        assert provider and grantee and source
        grant = next(g for g in grant_rows.list_grants(session, source) if g.grantee_id == grantee.id)
        grant_rows.revoke(session, resource=source, grant_id=grant.id)
        derived = resource_for(session, name="grantee-copy", user=grantee)  # still listed for its owner
        assert rights(session, derived, grantee) == {"own"}
        with pytest.raises(Forbidden, match="made from 'private-model', which you can no longer read"):
            resource_for(session, name="grantee-copy", user=grantee, need="use")
        assert session.get(Resource, world.derived.id) is not None
        admin = session.get(User, world.admin.id)
        assert rights(session, derived, admin) == {"use", "modify", "own"}


def test_a_derivative_of_a_derivative_is_bound_by_both(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        grantee, provider = session.get(User, world.grantee.id), session.get(User, world.provider.id)
        derived = session.get(Resource, world.derived.id)
        assert grantee and provider and derived
        other = user(session, "other-provider")
        second_source = model(session, other, "other-private")
        grant_rows.grant(session, resource=second_source, username="grantee", permission="use", actor=other)
        grand = model(session, grantee, "grand-copy")
        made = record_lineage(session, item=grand, sources=[derived, second_source], task_id=None)
        assert {m.name for m in made} == {"grantee-copy", "private-model", "other-private"}
        # the provider may read private-model and grantee-copy? not grantee-copy (no grant), so a grant to the
        # provider fails on other-private, which the provider cannot read
        with pytest.raises(Conflict, match="other-private"):
            grant_rows.grant(session, resource=grand, username="provider", permission="use", actor=grantee)
        source = session.get(Resource, world.private.id)
        assert source is not None
        update_resource(session, resource=source, changes=ResourceUpdate(derivatives="open"), actor=provider)
        with pytest.raises(Conflict, match="other-private"):
            update_resource(session, resource=grand, changes=ResourceUpdate(visibility="public"), actor=grantee)


def test_only_the_owner_changes_visibility_and_policy(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        editor = session.get(User, world.editor.id)
        source = session.get(Resource, world.private.id)
        assert editor and source
        assert "modify" in rights(session, source, editor)
        for change in (
            ResourceUpdate(visibility="public"),
            ResourceUpdate(derivatives="open"),
            ResourceUpdate(download=False),
        ):
            with pytest.raises(Forbidden, match="only the owner"):
                update_resource(session, resource=source, changes=change, actor=editor)
        update_resource(session, resource=source, changes=ResourceUpdate(title="Better title"), actor=editor)
        assert source.visibility == "private" and source.title == "Better title"


def test_the_owner_of_both_is_not_bound_by_their_own_source(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        provider = session.get(User, world.provider.id)
        source, dataset = session.get(Resource, world.private.id), session.get(Dataset, world.data.id)
        assert provider and source and dataset
        own_copy = model(session, provider, "provider-copy")
        record_lineage(session, item=own_copy, sources=[source, dataset], task_id=None)
        update_resource(session, resource=own_copy, changes=ResourceUpdate(visibility="public"), actor=provider)
        assert access(session, own_copy, None).visible


def test_publishing_into_an_open_resource_of_ones_own_is_refused(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        grantee = session.get(User, world.grantee.id)
        source, dataset = session.get(Resource, world.private.id), session.get(Dataset, world.data.id)
        assert grantee and source and dataset
        model(session, grantee, "grantee-public", visibility="public")
        with pytest.raises(Conflict, match="private-model"):
            resolve_target(session, user=grantee, source=source, publish_as="grantee-public")
        # a new resource of theirs is fine (private, no grants)
        assert resolve_target(session, user=grantee, source=source, publish_as="brand-new").existing is None
        # training the provider's *public* model on the provider's private dataset binds by the dataset
        public_model = model(session, session.get(User, world.provider.id), "public-model", visibility="public")  # type: ignore[arg-type]
        with pytest.raises(Conflict, match="private-data"):
            resolve_target(session, user=grantee, source=public_model, publish_as="grantee-public", dataset=dataset)


def test_run_only_files_go_to_the_owner_alone(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        provider, grantee = session.get(User, world.provider.id), session.get(User, world.grantee.id)
        source, derived = session.get(Resource, world.private.id), session.get(Resource, world.derived.id)
        assert provider and grantee and source and derived
        assert may_download(session, source, grantee) and may_download(session, derived, grantee)
        update_resource(session, resource=source, changes=ResourceUpdate(download=False), actor=provider)
        assert may_download(session, source, provider)
        assert not may_download(session, source, grantee)
        assert not may_download(session, derived, grantee), "the copy carries the run-only weights"
        holder = run_only_owner(session, derived, grantee)
        assert holder is not None and holder.name == "private-model"
        assert "use" in rights(session, source, grantee), "run-only: tasks are still allowed"


def test_datasets_derived_and_policies(database_url: str, world: World) -> None:
    with Session(get_engine(database_url)) as session:
        provider, grantee = session.get(User, world.provider.id), session.get(User, world.grantee.id)
        editor = session.get(User, world.editor.id)
        source = session.get(Dataset, world.data.id)
        assert provider and grantee and editor and source
        copy = dataset_rows.create_dataset(session, owner=grantee, spec=DatasetCreate(name="augmented"))
        record_lineage(session, item=copy, sources=[source], task_id=None)
        with pytest.raises(Conflict, match="private-data"):
            dataset_rows.update_dataset(
                session, dataset=copy, changes=DatasetUpdate(visibility="public"), actor=grantee
            )
        with pytest.raises(Conflict, match="private-data"):
            dataset_perms.grant(session, dataset=copy, username="*", permission="use", actor=grantee)
        with pytest.raises(NotFound):
            dataset_perms.dataset_for(session, dataset_id=copy.id, user=None)
        dataset_perms.grant(session, dataset=source, username="editor", permission="modify", actor=provider)
        with pytest.raises(Forbidden, match="only the owner"):
            dataset_rows.update_dataset(
                session, dataset=source, changes=DatasetUpdate(visibility="public"), actor=editor
            )
        with pytest.raises(Conflict, match="augmented"):
            dataset_rows.check_no_derivatives(session, source)


def test_a_request_on_a_derivative_reaches_the_sources_owner(database_url: str, world: World) -> None:
    from registry.access_requests import inbox

    with Session(get_engine(database_url)) as session:
        editor, provider, grantee = (session.get(User, u.id) for u in (world.editor, world.provider, world.grantee))
        derived = session.get(Resource, world.derived.id)
        assert editor and provider and grantee and derived
        asked = grant_rows.request_access(session, resource=derived, requester=editor, permission="modify", message="")
        assert [r.id for r in inbox(session, owner=grantee)] == [asked.id]
        assert [r.id for r in inbox(session, owner=provider)] == [asked.id], "the source's owner should know"
        assert inbox(session, owner=session.get(User, world.stranger.id)) == []  # type: ignore[arg-type]
        # the inbox says where to decide (owner/name) and, for the source's owner, that it is not theirs to
        shown_to_owner, shown_to_source_owner = inbox(session, owner=grantee)[0], inbox(session, owner=provider)[0]
        assert shown_to_owner.ref == "grantee/grantee-copy" and shown_to_owner.made_from_yours is None
        assert shown_to_source_owner.made_from_yours == "resource private-model"


def test_a_request_from_a_bound_derivatives_maker_goes_to_the_source(database_url: str, world: World) -> None:
    """Seen: the maker of a derivative who lost the source's grant asked for access on their own derivative —
    a request to themselves, which could never help. It now goes to the source that binds it."""
    with Session(get_engine(database_url)) as session:
        provider, grantee = session.get(User, world.provider.id), session.get(User, world.grantee.id)
        source, derived = session.get(Resource, world.private.id), session.get(Resource, world.derived.id)
        assert provider and grantee and source and derived
        assert grant_rows.request_target(session, derived, grantee) == derived  # not bound for them: as asked
        grant = next(g for g in grant_rows.list_grants(session, source) if g.grantee_id == grantee.id)
        grant_rows.revoke(session, resource=source, grant_id=grant.id)
        assert grant_rows.request_target(session, derived, grantee) == source
        data = session.get(Dataset, world.data.id)
        assert data is not None
        bound_by_data = model(session, grantee, "trained-on-data")
        record_lineage(session, item=bound_by_data, sources=[data], task_id=None)
        dataset_grant = dataset_perms.list_grants(session, data)[0]
        dataset_perms.revoke(session, dataset=data, grant_id=dataset_grant.id)
        with pytest.raises(Conflict, match="ask provider to share that dataset with you"):
            grant_rows.request_target(session, bound_by_data, grantee)


def test_use_on_a_model_trained_on_private_data_lets_the_grantee_read_what_they_make(
    database_url: str, world: World
) -> None:
    """Seen: `use` on a provider's model that was trained on the provider's private dataset gave the grantee a
    trained copy they could not use (bound by the dataset, which they were never shown). The provider let them
    read the model made from that dataset, so the dataset's mark in the copy is theirs to read too; outsiders
    and former grantees still cannot, and the copy's files follow."""
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        provider, stranger = session.get(User, world.provider.id), session.get(User, world.stranger.id)
        assert provider is not None and stranger is not None
        learner = user(session, "learner")
        data = dataset_rows.create_dataset(session, owner=provider, spec=DatasetCreate(name="secret data"))
        trained = model(session, provider, "trained-on-secret")
        record_lineage(session, item=trained, sources=[data], task_id=None)
        grant_rows.grant(session, resource=trained, username="learner", permission="use", actor=provider)
        copy = model(session, learner, "learner-copy")
        made = record_lineage(session, item=copy, sources=[trained], task_id=None)
        assert {m.name for m in made} == {"trained-on-secret", "secret data"}
        session.commit()

        assert rights(session, copy, learner) == {"use", "modify", "own"}
        check_files_readable(session, copy, learner)
        # what the copy was made from: the model by name, the provider's private dataset only as such
        shown = {(s.type, s.name, s.owner, s.readable) for s in sources_public(session, [copy], learner)[copy.id]}
        assert shown == {("resource", "trained-on-secret", "provider", True), ("dataset", "", "provider", False)}
        admin = session.get(User, world.admin.id)
        assert {s.name for s in sources_public(session, [copy], admin)[copy.id]} == {"trained-on-secret", "secret data"}
        assert "learner-copy" in {r.name for r in list_visible(session, learner, limit=50, offset=0)}
        assert not access(session, copy, stranger).visible
        # within the audience: someone else the provider lets read the model may be granted the copy
        grant_rows.grant(session, resource=trained, username="grantee", permission="use", actor=provider)
        grant_rows.grant(session, resource=copy, username="grantee", permission="use", actor=learner)
        with pytest.raises(Conflict, match="cannot be opened to user 'stranger'"):
            grant_rows.grant(session, resource=copy, username="stranger", permission="use", actor=learner)

        grant = next(g for g in grant_rows.list_grants(session, trained) if g.grantee_id == learner.id)
        grant_rows.revoke(session, resource=trained, grant_id=grant.id)
        assert rights(session, copy, learner) == {"own"}
        assert "learner-copy" in {r.name for r in list_visible(session, learner, limit=50, offset=0)}  # own
        with pytest.raises(Forbidden, match="so its files are not yours to download"):
            check_files_readable(session, copy, learner)
