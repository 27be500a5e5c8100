"""Tasks: submit (202), read, list, follow as server-sent events, cancel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlmodel import Session

from api.deps import CurrentUser, DispatcherDep, PageDep, SessionDep, SettingsDep, StoreDep
from api.kinds import validate_params
from api.task_views import task_public
from commons.db import get_engine
from commons.errors import ServiceUnavailable
from registry import tasks as task_rows
from registry.models import Task
from registry.permissions import resource_for
from registry.schemas import TaskCreate, TaskPublic
from registry.uploads import uploads_for_task
from registry.versions import get_version

router = APIRouter(prefix="/tasks", tags=["tasks"])
log = logging.getLogger(__name__)
EVENT_POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=TaskPublic)
def submit(
    spec: TaskCreate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TaskPublic:
    """Validate, store the task, start its flow run on a worker, and answer at once."""
    if idempotency_key is not None:
        earlier = task_rows.find_by_idempotency_key(session, owner=user, key=idempotency_key)
        if earlier is not None:
            return task_public(session, earlier, store=store, expires_seconds=settings.presign_expiry_seconds)
    resource = resource_for(session, name=spec.resource, user=user, need="use")
    version = get_version(session, resource, spec.version)
    inputs = uploads_for_task(session, owner=user, upload_ids=spec.inputs)
    params = validate_params(resource.kind, spec.mode, spec.params, inputs)
    lane = dispatcher.choose_lane(requested=spec.lane, mode=spec.mode, input_count=len(inputs))
    task, created = task_rows.create_task(
        session,
        owner=user,
        resource=resource,
        version=version,
        mode=spec.mode,
        params=params,
        inputs=spec.inputs,
        lane=lane,
        idempotency_key=idempotency_key,
    )
    session.commit()  # the worker reads the row from its own connection
    if created:
        try:
            dispatch_id = dispatcher.submit(task.id, lane=lane)
            # The worker may already be writing the row: change it on a fresh read (optimistic locking).
            task_rows.change_task(
                settings.resolved_database_url,
                task.id,
                lambda s, row: task_rows.mark_scheduled(s, task=row, dispatch_id=dispatch_id),
            )
            session.refresh(task)
        except ServiceUnavailable as error:  # the task stays pending; the reaper submits it when Prefect is back
            log.warning("task %s stored but not yet submitted: %s", task.id, error.message)
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    return task_public(session, task, store=store, expires_seconds=settings.presign_expiry_seconds)


@router.get("", response_model=list[TaskPublic])
def list_own(
    user: CurrentUser, session: SessionDep, store: StoreDep, settings: SettingsDep, page: PageDep
) -> list[TaskPublic]:
    rows = task_rows.list_tasks(session, owner=user, limit=page.limit, offset=page.offset)
    return [task_public(session, row, store=store, expires_seconds=settings.presign_expiry_seconds) for row in rows]


@router.get("/{task_id}", response_model=TaskPublic)
def read(task_id: str, user: CurrentUser, session: SessionDep, store: StoreDep, settings: SettingsDep) -> TaskPublic:
    task = task_rows.task_for(session, task_id=task_id, user=user)
    return task_public(session, task, store=store, expires_seconds=settings.presign_expiry_seconds)


@router.post("/{task_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=TaskPublic)
def cancel(
    task_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> TaskPublic:
    """End the task as cancelled now (it will publish nothing) and stop its flow run through Prefect."""
    task = task_rows.task_for(session, task_id=task_id, user=user)

    def change(s: Session, row: Task) -> None:
        task_rows.ensure_cancellable(row)
        task_rows.finish(s, task=row, status="cancelled", error="cancelled by request")

    task_rows.change_task(settings.resolved_database_url, task.id, change)
    session.refresh(task)
    if task.flow_run_id:
        try:
            dispatcher.cancel(task)
        except Exception as error:  # the row is already cancelled; the flow checks it before publishing
            log.warning("could not cancel flow run %s: %s", task.flow_run_id, error)
    return task_public(session, task, store=store, expires_seconds=settings.presign_expiry_seconds)


@router.get("/{task_id}/events", response_class=EventSourceResponse)
async def events(
    task_id: str, user: CurrentUser, store: StoreDep, settings: SettingsDep
) -> AsyncIterator[ServerSentEvent]:
    """One `task` event whenever status, a step or progress changes; the stream ends with the task."""
    engine = get_engine(settings.resolved_database_url)

    def snapshot() -> TaskPublic:
        with Session(engine) as session:
            row = task_rows.task_for(session, task_id=task_id, user=user)
            return task_public(session, row, store=store, expires_seconds=settings.presign_expiry_seconds)

    current = await run_in_threadpool(snapshot)
    last_key: tuple[object, ...] | None = None
    sequence = 0
    idle = 0.0
    while True:
        key = (current.status, tuple((s.name, s.status) for s in current.steps), current.progress)
        if key != last_key:
            sequence += 1
            last_key, idle = key, 0.0
            yield ServerSentEvent(event="task", id=str(sequence), data=current.model_dump(mode="json"))
            if current.status in task_rows.TERMINAL:
                return
        elif idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ServerSentEvent(comment="keep-alive")
        await asyncio.sleep(EVENT_POLL_SECONDS)
        idle += EVENT_POLL_SECONDS
        current = await run_in_threadpool(snapshot)
