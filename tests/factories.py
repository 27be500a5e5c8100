"""Rows the reaper and time-limit tests start from (a user's pending task on a version of a resource of theirs),
the reaper's passes over them, and the zip archives the dataset-import tests send."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from commons.settings import Settings
from registry import tasks as task_rows
from registry.models import Resource, ResourceVersion, Task, User
from registry.resources import create_resource
from registry.schemas import ResourceCreate
from registry.users import create_user
from services.dispatch import Dispatcher


def pending_task(
    session: Session,
    *,
    owner_name: str,
    mode: str = "infer",
    execution: dict[str, Any] | None = None,
    dataset_id: str | None = None,
) -> Task:
    """A pending batch task of a new user `owner_name` on version 1 of a new resource of theirs (SAM for infer, a
    ResNet classifier otherwise), the version's stored `execution` as given."""
    owner = create_user(session, username=owner_name, password="a long password")
    kind = "segmenter.sam" if mode == "infer" else "classifier.resnet"
    resource = create_resource(session, owner=owner, spec=ResourceCreate(name=f"r-{owner_name}", kind=kind, title="r"))
    version = ResourceVersion(
        resource_id=resource.id,
        number=1,
        digest="sha256:x",
        config={},
        files=[],
        created_by=owner.id,
        execution=execution,
    )
    session.add(version)
    session.flush()
    task, _ = new_task(session, owner=owner, resource=resource, version=version, mode=mode, dataset_id=dataset_id)
    return task


def new_task(
    session: Session,
    *,
    owner: User,
    resource: Resource | None,
    version: ResourceVersion | None,
    mode: str = "infer",
    dataset_id: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Task, bool]:
    """`registry.tasks.create_task` with no params or inputs, on the batch lane: (the task, whether it is new)."""
    return task_rows.create_task(
        session,
        owner=owner,
        resource=resource,
        version=version,
        mode=mode,
        params={},
        inputs=[],
        lane="batch",
        idempotency_key=idempotency_key,
        dataset_id=dataset_id,
    )


def two_passes(settings: Settings, sweep: Callable[..., int]) -> list[int]:
    """How many rows each of two passes of the reaper's `sweep` (e.g. `reconcile_once`) changed, with one
    dispatcher."""
    dispatcher = Dispatcher(settings)
    try:
        return [sweep(settings=settings, dispatcher=dispatcher) for _ in range(2)]
    finally:
        dispatcher.close()


def zip_bytes(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of `entries` (name: content), each compressed with `compression`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()
