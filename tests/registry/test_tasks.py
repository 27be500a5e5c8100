"""registry.tasks: a task row lives and dies with its request's transaction; dataset-only tasks run no version."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from commons.db import get_engine
from commons.errors import Conflict
from registry.models import Resource, ResourceVersion, Task, User
from registry.resources import create_resource
from registry.schemas import ResourceCreate
from registry.users import create_user
from tests.factories import new_task


def setup_version(database_url: str) -> tuple[User, Resource, ResourceVersion]:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        resource = create_resource(
            session, owner=owner, spec=ResourceCreate(name="r", kind="classifier.resnet", title="r")
        )
        version = ResourceVersion(
            resource_id=resource.id, number=1, digest="sha256:x", config={}, files=[], created_by=owner.id
        )
        session.add(version)
        session.commit()
        return owner, resource, version


def create(
    session: Session,
    owner: User,
    *,
    resource: Resource | None,
    version: ResourceVersion | None,
    mode: str,
    dataset_id: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Task, bool]:
    return new_task(
        session,
        owner=owner,
        resource=resource,
        version=version,
        mode=mode,
        dataset_id=dataset_id,
        idempotency_key=idempotency_key,
    )


def test_a_task_made_in_a_request_that_fails_later_is_rolled_back(database_url: str) -> None:
    """POST /tasks stores the task, then its dataset snapshot, then commits; when a later step fails the task
    must go too (on SQLite the savepoint must be nested in an open write transaction, or its release commits)."""
    owner, resource, version = setup_version(database_url)
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        _, created = create(session, owner, resource=resource, version=version, mode="infer", idempotency_key="k")
        assert created
        session.rollback()  # what the request does when storing the snapshot fails
    with Session(get_engine(database_url)) as session:
        assert session.exec(select(Task)).all() == []


def test_dataset_only_modes_take_a_dataset_and_no_version(database_url: str) -> None:
    owner, resource, version = setup_version(database_url)
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        with pytest.raises(Conflict, match="needs no resource version"):
            create(session, owner, resource=resource, version=version, mode="augment", dataset_id="d")
        with pytest.raises(Conflict, match="needs a resource version"):
            create(session, owner, resource=None, version=None, mode="train", dataset_id="d")
        with pytest.raises(Conflict, match="needs a dataset"):
            create(session, owner, resource=None, version=None, mode="augment")
        task, _ = create(session, owner, resource=None, version=None, mode="augment", dataset_id="d")
        assert task.version_id is None and task.resource_id is None
        assert [step["name"] for step in task.steps] == ["init", "augment", "publish"]
