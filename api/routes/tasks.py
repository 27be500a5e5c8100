"""Tasks: submit (202), read, list, follow as server-sent events, cancel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlmodel import Session

from api.deps import CurrentUser, DispatcherDep, PageDep, SessionDep, SettingsDep, StoreDep
from api.submitting import IdempotencyKey, SubmitterDep, request_digest, submitted_view
from api.zip_files import zip_response
from commons.db import get_engine
from commons.errors import NotFound
from commons.settings import Settings
from commons.store import ObjectStore, keys
from registry import task_reading
from registry import tasks as task_rows
from registry.models import Task, User
from registry.schemas import EpochMetrics, TaskCreate, TaskLogLine, TaskPublic
from registry.task_outputs_zip import write_outputs_zip, zip_entries
from registry.task_schemas import TaskShown
from registry.task_thumbnail import make_thumbnail
from registry.views.tasks import task_shown, task_shown_many, task_view, thumbnail_source
from registry.vocabulary import TaskStatus
from services import submission
from services.submission import Idempotency, answered_before, submit_task

router = APIRouter(prefix="/tasks", tags=["tasks"])
log = logging.getLogger(__name__)
EVENT_POLL_SECONDS = 0.1  # a cheap read of the row's version; the full view only when it changed
KEEPALIVE_SECONDS = 15.0
RECONNECT_MILLISECONDS = 1000  # the `retry:` a client waits before reconnecting a dropped stream


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=TaskPublic)
def submit(
    spec: TaskCreate,
    submitter: SubmitterDep,
    response: Response,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> TaskPublic:
    """Validate, store the task, start its flow run on a worker, and answer at once.

    infer and inspect take `inputs` (upload ids); train, evaluate and export take a `dataset` id, frozen
    at this moment (later changes to the dataset do not reach the task); edit takes only `params`.
    The same `Idempotency-Key` with the same request answers the task it made; with another request, 422.
    """
    idempotency = Idempotency(idempotency_key, request_digest(request, spec.model_dump(mode="json")))
    earlier = answered_before(submitter, idempotency)
    if earlier is None:
        earlier, _ = submit_task(submitter, spec, idempotency)
        response.headers["Location"] = f"/api/v1/tasks/{earlier.id}"
    return submitted_view(submitter, earlier)


@router.post("/{task_id}/reproduce", status_code=status.HTTP_202_ACCEPTED, response_model=TaskPublic)
def reproduce(task_id: str, submitter: SubmitterDep, response: Response) -> TaskPublic:
    """Run a succeeded task again: same version digest, same inputs or dataset snapshot, same parameters
    and seed. Its outputs include `reproduction.json`, comparing every figure and output digest."""
    task = submission.reproduce(submitter, task_id)
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    return submitted_view(submitter, task)


@router.get("/{task_id}/logs", response_model=list[TaskLogLine])
def logs(
    task_id: str,
    user: CurrentUser,
    session: SessionDep,
    dispatcher: DispatcherDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[TaskLogLine]:
    """The log lines of the task's Prefect run, its flow run or (warm lane) its task run; workers ship them
    every few seconds; empty before it starts."""
    task = task_rows.task_for(session, task_id=task_id, user=user)
    return [TaskLogLine.model_validate(line) for line in dispatcher.logs(task, limit=limit)]


@router.get("/{task_id}/metrics", response_model=list[EpochMetrics])
def metrics(task_id: str, user: CurrentUser, session: SessionDep) -> list[EpochMetrics]:
    """One record per finished epoch so far (a train task writes them as it runs); empty for other modes.
    Part of a task's public view too (see GET /tasks/{task_id})."""
    task = task_reading.readable_task(session, task_id=task_id, user=user).task
    return [EpochMetrics(**record) for record in task.metrics]


@router.get("", response_model=list[TaskShown])
def list_own(
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    page: PageDep,
    mode: Annotated[str | None, Query(description="Only tasks of this mode (infer, train, …).")] = None,
    task_status: Annotated[
        str | None, Query(alias="status", description="Only tasks in this status (succeeded, failed, …).")
    ] = None,
) -> list[TaskShown]:
    """Your tasks, newest first, with what you know them by: the model (`owner/name vN`), the input photos'
    names, the dataset's name, and a thumbnail URL (fetch it with the same token)."""
    rows = task_reading.history(
        session, owner=user, mode=mode, status=task_status, limit=page.limit, offset=page.offset
    )
    return task_shown_many(session, rows, reader=user, store=store, expires_seconds=settings.presign_expiry_seconds)


@router.get("/{task_id}", response_model=TaskShown)
def read(task_id: str, user: CurrentUser, session: SessionDep, store: StoreDep, settings: SettingsDep) -> TaskShown:
    """The task in full for its submitter; for anyone who may reproduce it (a training whose published version
    they may use), its public view: steps, parameters, manifest and the outputs they may read (`public`: true)."""
    reading = task_reading.readable_task(session, task_id=task_id, user=user)
    return task_shown(session, reading, reader=user, store=store, expires_seconds=settings.presign_expiry_seconds)


@router.get(
    "/{task_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG of at most 256 pixels a side."}},
)
def thumbnail(task_id: str, user: CurrentUser, session: SessionDep, store: StoreDep, settings: SettingsDep) -> Response:
    """A small preview of the task: its first input photo (submitter) or its first image output you may read."""
    reading = task_reading.readable_task(session, task_id=task_id, user=user)
    public = task_view(session, reading.task, store=store, expires_seconds=60, reader=user)
    source = thumbnail_source(reading, public.outputs)
    if source is not None and source[0] == "upload" and not store.exists(keys.upload(source[1])):
        source = thumbnail_source(task_reading.Reading(task=reading.task, public=True), public.outputs)  # deleted
    if source is None:
        raise NotFound(f"task {task_id} has no photo to preview: no input photo and no image output you may read")
    kind, name = source
    data = store.get_bytes(keys.upload(name) if kind == "upload" else _output_key(reading.task, name))
    picture = make_thumbnail(data, name=name, max_pixels=settings.max_image_pixels)
    return Response(picture, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def _output_key(task: Task, name: str) -> str:
    return str(next(o["key"] for o in task.outputs if o["name"] == name))


@router.get(
    "/{task_id}/outputs.zip",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The outputs and manifest.json."}},
)
def outputs_zip(
    task_id: str, user: CurrentUser, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> FileResponse:
    """Every output you may read under its name, and `manifest.json` (their sizes and sha256 digests), as one
    zip; 409 before the task succeeded, 413 past the zip size limit."""
    reading = task_reading.readable_task(session, task_id=task_id, user=user)
    public = task_view(session, reading.task, store=store, expires_seconds=60, reader=user)
    entries = zip_entries(reading.task, public.outputs)
    return zip_response(
        lambda target: write_outputs_zip(store, entries, target=target, max_bytes=settings.max_zip_bytes),
        filename=f"task-{reading.task.id[:8]}-outputs.zip",
        prefix="commons-task-",
    )


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
        task_rows.finish(s, task=row, status=TaskStatus.CANCELLED, error="cancelled by request")

    task_rows.change_task(settings.resolved_database_url, task.id, change)
    session.refresh(task)
    if task.flow_run_id:
        try:
            dispatcher.cancel(task)
        except Exception as error:  # the row is already cancelled; the flow checks it before publishing
            log.warning("could not cancel flow run %s: %s", task.flow_run_id, error)
    return task_view(session, task, store=store, expires_seconds=settings.presign_expiry_seconds)


def _resume_from(last_event_id: str | None) -> int:
    """Epoch events a reconnecting client already has (0 for a new stream or an id this API never sent)."""
    if last_event_id is None or not (last_event_id.strip().isascii() and last_event_id.strip().isdigit()):
        return 0
    return int(last_event_id.strip())


def _readable_task(task_id: str, user: CurrentUser, session: SessionDep) -> None:
    """Refuse a task the caller may not read before the stream starts (after that the status is 200)."""
    task_rows.task_for(session, task_id=task_id, user=user)


@dataclass(frozen=True)
class _TaskReader:
    """The reads an event stream makes, each in a short session of its own (the stream may last hours)."""

    task_id: str
    user: User
    store: ObjectStore
    settings: Settings

    def snapshot(self, epochs_sent: int) -> tuple[TaskPublic, list[dict[str, object]], int]:
        """The task's view, the epochs not yet sent and the row's version."""
        with Session(get_engine(self.settings.resolved_database_url)) as session:
            row = task_rows.task_for(session, task_id=self.task_id, user=self.user)
            expires = self.settings.presign_expiry_seconds
            public = task_view(session, row, store=self.store, expires_seconds=expires)
            return public, [dict(record) for record in row.metrics[epochs_sent:]], row.row_version

    def row_version(self) -> int | None:
        with Session(get_engine(self.settings.resolved_database_url)) as session:
            return task_rows.row_version(session, task_id=self.task_id)


@router.get("/{task_id}/events", response_class=EventSourceResponse, dependencies=[Depends(_readable_task)])
async def events(
    task_id: str,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    last_event_id: Annotated[
        str | None,
        Header(
            description="Resume a dropped stream: the id of the last event received (browsers send it themselves); "
            "epochs already received are not sent again."
        ),
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """A `task` event whenever status, a step or progress changes, and an `epoch` event (one
    `EpochMetrics`) for each epoch a training finishes; the stream ends with the task.

    Every event's id is the number of epoch events sent so far, so a client that reconnects (after a network
    drop or an API restart) with `Last-Event-ID` gets the task's current state and only the epochs it missed.
    """
    reader = _TaskReader(task_id=task_id, user=user, store=store, settings=settings)
    epochs_sent = _resume_from(last_event_id)
    current, new_epochs, seen_version = await run_in_threadpool(reader.snapshot, epochs_sent)
    last_key: tuple[object, ...] | None = None
    idle = 0.0
    while True:
        for record in new_epochs:
            epochs_sent += 1
            idle = 0.0
            yield ServerSentEvent(
                event="epoch", id=str(epochs_sent), data=EpochMetrics(**record).model_dump(mode="json")
            )
        key = (current.status, tuple((s.name, s.status) for s in current.steps), current.progress)
        if key != last_key:
            first = last_key is None
            last_key, idle = key, 0.0
            yield ServerSentEvent(
                event="task",
                id=str(epochs_sent),
                retry=RECONNECT_MILLISECONDS if first else None,
                data=current.model_dump(mode="json"),
            )
            if current.status in task_rows.TERMINAL:
                return
        elif idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ServerSentEvent(comment="keep-alive")
        await asyncio.sleep(EVENT_POLL_SECONDS)
        idle += EVENT_POLL_SECONDS
        new_epochs = []
        if await run_in_threadpool(reader.row_version) != seen_version:  # every write of the row bumps its version
            current, new_epochs, seen_version = await run_in_threadpool(reader.snapshot, epochs_sent)
