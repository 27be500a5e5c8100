"""Tasks: submit (202), read, list, follow as server-sent events, cancel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlmodel import Session

from api.deps import ClientAddress, CurrentUser, DispatcherDep, PageDep, SessionDep, SettingsDep, StoreDep
from api.task_views import task_public
from commons.db import get_engine
from commons.errors import ExecutionNotAllowed, InvalidInput, NotFound, ServiceUnavailable
from commons.hashing import sha256_json
from commons.settings import Settings
from commons.store import ObjectStore
from registry import tasks as task_rows
from registry.audit import record_for_owner
from registry.dataset_permissions import dataset_for
from registry.dataset_snapshots import check_for_mode, load_snapshot, store_snapshot, take_snapshot
from registry.models import Resource, ResourceVersion, Task, User
from registry.permissions import require, resource_for
from registry.quotas import check_storage_quota, check_task_quota
from registry.reproductions import reproducible_task
from registry.schemas import EpochMetrics, ExecutionSpec, TaskCreate, TaskLogLine, TaskPublic
from registry.trained_versions import resolve_target
from registry.uploads import uploads_for_task
from registry.versions import execution_of, get_version
from services.dispatch import Dispatcher, fail_not_allowed
from services.kinds import check_mode, task_memory, validate_params

router = APIRouter(prefix="/tasks", tags=["tasks"])
log = logging.getLogger(__name__)
EVENT_POLL_SECONDS = 0.1  # a cheap read of the row's version; the full view only when it changed
KEEPALIVE_SECONDS = 15.0
RECONNECT_MILLISECONDS = 1000  # the `retry:` a client waits before reconnecting a dropped stream


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=TaskPublic)
def submit(
    spec: TaskCreate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    response: Response,
    address: ClientAddress,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TaskPublic:
    """Validate, store the task, start its flow run on a worker, and answer at once.

    infer and inspect take `inputs` (upload ids); train, evaluate and export take a `dataset` id, frozen
    at this moment (later changes to the dataset do not reach the task); edit takes only `params`.
    The same `Idempotency-Key` with the same request answers the task it made; with another request, 422.
    """
    digest = request_digest(request, spec.model_dump(mode="json"))
    earlier = answered_before(
        idempotency_key, digest=digest, user=user, session=session, store=store, settings=settings
    )
    if earlier is not None:
        return earlier
    resource = resource_for(session, name=spec.resource, user=user, need="use")
    version = get_version(session, resource, spec.version)
    snapshot = None
    dataset = None
    inputs = []
    if spec.mode in task_rows.DATASET_MODES:
        if spec.dataset is None:
            raise InvalidInput(f"a {spec.mode} task needs `dataset`: the id of a dataset you may use", field="dataset")
        if spec.inputs:
            raise InvalidInput(f"a {spec.mode} task reads its dataset; leave `inputs` out", field="inputs")
        dataset = dataset_for(session, dataset_id=spec.dataset, user=user, need="use")  # access before validity
        check_mode(resource.kind, spec.mode)
        snapshot = take_snapshot(session, dataset)
        check_for_mode(snapshot, mode=spec.mode)
    elif spec.mode in task_rows.UPLOAD_MODES:
        if spec.dataset is not None:
            raise InvalidInput(f"an {spec.mode} task takes `inputs` (upload ids), not a dataset", field="dataset")
        if not spec.inputs:
            raise InvalidInput(f"an {spec.mode} task needs at least one upload id in `inputs`", field="inputs")
        if spec.mode == "inspect" and len(spec.inputs) != 1:
            raise InvalidInput(
                f"an inspect task follows one photo through the model; give one upload id (got {len(spec.inputs)})",
                field="inputs",
            )
        inputs = uploads_for_task(session, owner=user, upload_ids=spec.inputs)
    elif spec.dataset is not None or spec.inputs:
        raise InvalidInput(f"an {spec.mode} task takes only `params`; leave `inputs` and `dataset` out", field="mode")
    params = validate_params(resource.kind, spec.mode, spec.params, inputs, config=version.config, dataset=snapshot)
    if task_rows.publishes(spec.mode, params):
        resolve_target(session, user=user, source=resource, publish_as=params.get("publish_as"), dataset=dataset)
    memory = task_memory(
        resource.kind, spec.mode, params, inputs, config=version.config, dataset=snapshot, settings=settings
    )
    lane = dispatcher.choose_lane(requested=spec.lane, mode=spec.mode, input_count=len(inputs), memory=memory)
    check_quotas(session, user=user, settings=settings, mode=spec.mode)
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
        idempotency_digest=digest,
        dataset_id=snapshot["id"] if snapshot else None,
        dataset_digest=snapshot["digest"] if snapshot else None,
    )
    if created:
        for item in (resource, dataset):
            if item is not None:
                detail = {"task": task.id, "mode": spec.mode, "version": version.number}
                record_for_owner(session, actor=user, action="task.submit", target=item, detail=detail, address=address)
    return launch(
        task,
        created=created,
        snapshot=snapshot,
        session=session,
        store=store,
        settings=settings,
        dispatcher=dispatcher,
        response=response,
    )


def request_digest(request: Request, body: Any) -> str:
    """What an `Idempotency-Key` is bound to: sha256 over the method, the path and the parsed body as canonical
    JSON (so key order and whitespace do not count, and defaults left out equal defaults sent)."""
    return sha256_json({"method": request.method, "path": request.url.path, "body": body})


def check_quotas(session: Session, *, user: User, settings: Settings, mode: str) -> None:
    """The user's task quota (429), and for a task that will publish a version or dataset their storage (413)."""
    if mode in task_rows.PUBLISHING_MODES or mode in task_rows.DATASET_ONLY_MODES:
        check_storage_quota(session, user=user, settings=settings, adding=0)
    check_task_quota(session, user=user, settings=settings)


def answered_before(
    idempotency_key: str | None,
    *,
    digest: str,
    user: User,
    session: Session,
    store: ObjectStore,
    settings: Settings,
) -> TaskPublic | None:
    """The task an earlier request with this `Idempotency-Key` made (answered again as it is now), or None;
    InvalidInput (422) when the key came with a different request (`digest`, see `request_digest`)."""
    if idempotency_key is None:
        return None
    earlier = task_rows.earlier_for_key(session, owner=user, key=idempotency_key, digest=digest)
    if earlier is None:
        return None
    return task_public(session, earlier, store=store, expires_seconds=settings.presign_expiry_seconds)


def launch(
    task: Task,
    *,
    created: bool,
    snapshot: dict[str, Any] | None,
    session: Session,
    store: ObjectStore,
    settings: Settings,
    dispatcher: Dispatcher,
    response: Response,
) -> TaskPublic:
    """Store a new task's dataset snapshot, commit it and hand it to Prefect in the background (if Prefect
    is away it stays pending for the reaper); answer at once with the task and its Location."""
    if created:
        if snapshot is not None:
            store_snapshot(store=store, task_id=task.id, snapshot=snapshot)
        execution = execution_of(session, version_id=task.version_id) if task.version_id else None
        # Commit (the worker reads the row from its own connection), then hand the task to Prefect on the
        # dispatcher's threads: the answer (202, status pending) does not wait for Prefect.
        session.commit()
        dispatcher.in_background(
            partial(_dispatch, task.id, lane=task.lane, execution=execution, settings=settings, dispatcher=dispatcher)
        )
    else:
        session.commit()
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    return task_public(session, task, store=store, expires_seconds=settings.presign_expiry_seconds)


def _dispatch(
    task_id: str, *, lane: str, execution: ExecutionSpec | None, settings: Settings, dispatcher: Dispatcher
) -> None:
    try:
        dispatch_id = dispatcher.submit(task_id, lane=lane, execution=execution)
    except ServiceUnavailable as error:  # the task stays pending; the reaper submits it when Prefect is back
        log.warning("task %s stored but not yet submitted: %s", task_id, error.message)
        return
    except ExecutionNotAllowed as error:  # the policy changed since the version was stored: fail, start nothing
        fail_not_allowed(settings, task_id, error)
        return
    # The worker may already be writing the row: change it on a fresh read (optimistic locking).
    task_rows.change_task(
        settings.resolved_database_url,
        task_id,
        lambda s, row: task_rows.mark_scheduled(s, task=row, dispatch_id=dispatch_id),
    )


@router.post("/{task_id}/reproduce", status_code=status.HTTP_202_ACCEPTED, response_model=TaskPublic)
def reproduce(
    task_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    response: Response,
) -> TaskPublic:
    """Run a succeeded task again: same version digest, same inputs or dataset snapshot, same parameters
    and seed. Its outputs include `reproduction.json`, comparing every figure and output digest."""
    original = reproducible_task(session, task_id=task_id, user=user)
    resource = version = None
    if original.version_id is not None:  # a task on a dataset alone (augment) runs no version
        resource = session.get(Resource, original.resource_id)
        version = session.get(ResourceVersion, original.version_id)
        if resource is None or version is None:
            raise NotFound(f"the resource version task {original.id} ran no longer exists")
        require(session, resource, user, need="use")
    snapshot = None
    if original.dataset_id is not None:
        dataset_for(session, dataset_id=original.dataset_id, user=user, need="use")
        snapshot = load_snapshot(store=store, task_id=original.id)
    submitter = session.get(User, original.owner_id)
    if original.inputs and submitter is not None:
        uploads_for_task(session, owner=submitter, upload_ids=original.inputs)  # still stored
    check_quotas(session, user=user, settings=settings, mode=original.mode)
    task, _ = task_rows.create_task(
        session,
        owner=user,
        resource=resource,
        version=version,
        mode=original.mode,
        params=dict(original.params),
        inputs=list(original.inputs),
        lane=original.lane,
        idempotency_key=None,
        dataset_id=original.dataset_id,
        dataset_digest=original.dataset_digest,
        reproduces_id=original.id,
    )
    return launch(
        task,
        created=True,
        snapshot=snapshot,
        session=session,
        store=store,
        settings=settings,
        dispatcher=dispatcher,
        response=response,
    )


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
    """One record per finished epoch so far (a train task writes them as it runs); empty for other modes."""
    task = task_rows.task_for(session, task_id=task_id, user=user)
    return [EpochMetrics(**record) for record in task.metrics]


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


def _resume_from(last_event_id: str | None) -> int:
    """Epoch events a reconnecting client already has (0 for a new stream or an id this API never sent)."""
    if last_event_id is None or not (last_event_id.strip().isascii() and last_event_id.strip().isdigit()):
        return 0
    return int(last_event_id.strip())


def _readable_task(task_id: str, user: CurrentUser, session: SessionDep) -> None:
    """Refuse a task the caller may not read before the stream starts (after that the status is 200)."""
    task_rows.task_for(session, task_id=task_id, user=user)


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
    engine = get_engine(settings.resolved_database_url)

    def snapshot(epochs_sent: int) -> tuple[TaskPublic, list[dict[str, object]], int]:
        with Session(engine) as session:
            row = task_rows.task_for(session, task_id=task_id, user=user)
            public = task_public(session, row, store=store, expires_seconds=settings.presign_expiry_seconds)
            return public, [dict(record) for record in row.metrics[epochs_sent:]], row.row_version

    def row_version() -> int | None:
        with Session(engine) as session:
            return task_rows.row_version(session, task_id=task_id)

    epochs_sent = _resume_from(last_event_id)
    current, new_epochs, seen_version = await run_in_threadpool(snapshot, epochs_sent)
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
        if await run_in_threadpool(row_version) != seen_version:  # every write of the row bumps its version
            current, new_epochs, seen_version = await run_in_threadpool(snapshot, epochs_sent)
