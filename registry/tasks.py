"""Tasks and their lifecycle: pending → scheduled → running → succeeded | failed | cancelled."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from commons.db import session_scope
from commons.errors import Conflict, InvalidInput, NotFound
from registry.clock import as_utc, utcnow
from registry.models import Resource, ResourceVersion, Task, User
from registry.notification_events import task_finished
from registry.vocabulary import ACTIVE, DATASET_ONLY_MODES, TERMINAL, Lane, Mode, StepStatus, TaskStatus
from registry.webhooks import events as webhook_events

T = TypeVar("T")
CHANGE_ATTEMPTS = 10


def create_task(
    session: Session,
    *,
    owner: User,
    resource: Resource | None,
    version: ResourceVersion | None,
    mode: Mode | str,
    params: dict[str, Any],
    inputs: list[str],
    lane: Lane | str,
    idempotency_key: str | None,
    dataset_id: str | None = None,
    dataset_digest: str | None = None,
    reproduces_id: str | None = None,
    idempotency_digest: str | None = None,
) -> tuple[Task, bool]:
    """Store a new pending task; with an idempotency key already used by this owner, return that task.

    `idempotency_digest` identifies the request that carried the key (see `earlier_for_key`): the same key
    on a different request is refused. A task runs a resource version, except in the dataset-only modes
    (`resource` and `version` None, a `dataset_id` instead); which modes those are is the kind's business
    (`flows/kinds/`), checked before this. Returns (task, created).
    """
    _check_subject(mode, resource=resource, version=version, dataset_id=dataset_id)
    if idempotency_key is not None:
        existing = earlier_for_key(session, owner=owner, key=idempotency_key, digest=idempotency_digest)
        if existing is not None:
            return existing, False
    task = Task(
        owner_id=owner.id,
        resource_id=resource.id if resource is not None else None,
        version_id=version.id if version is not None else None,
        mode=mode,
        params=params,
        inputs=inputs,
        lane=lane,
        steps=new_steps(Mode(mode)),
        idempotency_key=idempotency_key,
        idempotency_digest=idempotency_digest if idempotency_key is not None else None,
        dataset_id=dataset_id,
        dataset_digest=dataset_digest,
        reproduces_id=reproduces_id,
    )
    _open_write_transaction(session, owner)
    savepoint = session.begin_nested()
    session.add(task)
    try:
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        existing = earlier_for_key(session, owner=owner, key=idempotency_key or "", digest=idempotency_digest)
        if existing is None:
            raise
        return existing, False
    savepoint.commit()
    return task, True


def _check_subject(
    mode: str, *, resource: Resource | None, version: ResourceVersion | None, dataset_id: str | None
) -> None:
    """A task runs a resource version, or (a dataset-only mode) works on a dataset alone."""
    dataset_only = mode in DATASET_ONLY_MODES
    if (version is None) != dataset_only or (resource is None) != (version is None):
        raise Conflict(f"a {mode} task needs {'no' if dataset_only else 'a'} resource version")
    if dataset_only and dataset_id is None:
        raise Conflict(f"a {mode} task needs a dataset")


def new_steps(mode: Mode) -> list[dict[str, Any]]:
    """Every task's steps, all pending: init → the mode's work → publish."""
    return [
        {"name": name, "status": TaskStatus.PENDING, "started_at": None, "finished_at": None}
        for name in ("init", mode, "publish")
    ]


def _open_write_transaction(session: Session, owner: User) -> None:
    """Open the write transaction now (a no-op UPDATE of the owner's row) so the savepoint is nested in it.

    pysqlite begins a transaction only at the first write: without this the savepoint would be the
    outermost transaction and its release would commit the task on its own, before the request's other
    steps (its dataset snapshot) — a request that failed later left a task behind for the reaper to run.
    """
    session.execute(update(User).where(col(User.id) == owner.id).values(id=User.id))


def find_by_idempotency_key(session: Session, *, owner: User, key: str) -> Task | None:
    return session.exec(select(Task).where(Task.owner_id == owner.id, Task.idempotency_key == key)).first()


def earlier_for_key(session: Session, *, owner: User, key: str, digest: str | None) -> Task | None:
    """The task an earlier request with this Idempotency-Key made, or None; InvalidInput when that request
    differs from this one (another method, path or body: `digest`, as Stripe binds a key to its request).

    A task stored before digests were recorded (or without one) is answered as before."""
    earlier = find_by_idempotency_key(session, owner=owner, key=key)
    if earlier is None or earlier.idempotency_digest is None or digest is None:
        return earlier
    if earlier.idempotency_digest != digest:
        raise InvalidInput(
            f"Idempotency-Key {key!r} was used for a different request (task {earlier.id}, {earlier.mode}, with "
            "another method, path or body); use a new key for a new request",
            field="Idempotency-Key",
        )
    return earlier


def change_task(database_url: str, task_id: str, change: Callable[[Session, Task], T]) -> T:
    """Apply `change` to a fresh read of the task and commit; re-read and re-apply when another process
    wrote the row in between (optimistic locking on `row_version`)."""
    for attempt in range(1, CHANGE_ATTEMPTS + 1):
        try:
            with session_scope(database_url) as session:
                return change(session, get_task(session, task_id))
        except StaleDataError:
            if attempt == CHANGE_ATTEMPTS:
                raise
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def get_task(session: Session, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id!r}")
    return task


def task_for(session: Session, *, task_id: str, user: User) -> Task:
    """The task if the caller submitted it (or is an admin); others get NotFound, not a hint it exists."""
    task = session.get(Task, task_id)
    if task is None or (task.owner_id != user.id and not user.is_admin):
        raise NotFound(f"no task {task_id!r} of yours; list yours at GET /api/v1/tasks")
    return task


def list_tasks(session: Session, *, owner: User, limit: int, offset: int) -> list[Task]:
    query = select(Task).where(Task.owner_id == owner.id).order_by(col(Task.created_at).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def _touch(task: Task) -> None:
    task.updated_at = utcnow()


def mark_scheduled(session: Session, *, task: Task, dispatch_id: str) -> None:
    """Record the Prefect run that will execute the task (a flow run, or a task run on the warm lane)."""
    task.dispatch_id = dispatch_id
    if task.lane == Lane.BATCH:
        task.flow_run_id = dispatch_id
    if task.status == TaskStatus.PENDING:
        task.status = "scheduled"
    _touch(task)
    session.add(task)


def mark_running(
    session: Session, *, task: Task, flow_run_id: str | None = None, task_run_id: str | None = None
) -> bool:
    """Claim the task for the Prefect run executing it (a flow run on the batch lane, a task run on the warm
    lane) and move it to running; False when it already ended (e.g. cancelled before the worker started) or
    another run has claimed it (a second submission of the same task: exactly one run does the work)."""
    if task.status in TERMINAL:
        return False
    if task.status == TaskStatus.RUNNING and (
        _held_by_another(task.flow_run_id, flow_run_id) or _held_by_another(task.task_run_id, task_run_id)
    ):
        return False
    task.status = "running"
    if flow_run_id:
        task.flow_run_id = flow_run_id
    if task_run_id:
        task.task_run_id = task_run_id
    now = utcnow()
    first_start = task.started_at is None
    task.started_at = task.started_at or now
    task.heartbeat_at = now
    _touch(task)
    session.add(task)
    if first_start:
        webhook_events.task_started(session, task)
    return True


def row_version(session: Session, *, task_id: str) -> int | None:
    """The task row's version (every write of the row increments it), or None for no such task: a cheap
    way to learn that a task changed without reading it whole."""
    return session.exec(select(Task.row_version).where(Task.id == task_id)).first()


def _held_by_another(holder: str | None, claimant: str | None) -> bool:
    return bool(holder and claimant and holder != claimant)


def set_step(session: Session, *, task: Task, name: str, status: str) -> None:
    now = utcnow().isoformat()
    steps = []
    for step in task.steps:
        step = dict(step)
        if step["name"] == name:
            step["status"] = status
            if status == TaskStatus.RUNNING:
                step["started_at"] = now
            else:
                step["finished_at"] = now
        steps.append(step)
    task.steps = steps
    done = sum(1 for step in steps if step["status"] == StepStatus.SUCCEEDED)
    task.progress = max(task.progress, done / len(steps)) if steps else 0.0
    _touch(task)
    session.add(task)
    webhook_events.task_step(session, task, step=name, status=status)


def set_progress(session: Session, *, task: Task, progress: float) -> None:
    task.progress = min(1.0, max(task.progress, progress))
    task.heartbeat_at = utcnow()
    _touch(task)
    session.add(task)


def add_epoch(session: Session, *, task: Task, record: dict[str, Any], progress: float) -> None:
    """Append one finished epoch's figures (see `registry.schemas.EpochMetrics`) and move progress on."""
    task.metrics = [*task.metrics, dict(record)]
    set_progress(session, task=task, progress=progress)
    webhook_events.task_output(session, task)


def heartbeat(session: Session, *, task: Task) -> None:
    task.heartbeat_at = utcnow()
    session.add(task)


def finish(
    session: Session,
    *,
    task: Task,
    status: str,
    error: str | None = None,
    outputs: list[dict[str, Any]] | None = None,
    manifest_key: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """End the task once; a task already ended keeps its first ending. Returns whether it changed. The owner
    finds a message about the ending in their inbox (in the same transaction: sent exactly when it ends)."""
    if status not in TERMINAL:
        raise ValueError(f"finish() needs a terminal status, not {status!r}")
    if task.status in TERMINAL:
        return False
    task.status = status
    task.error = error
    if outputs is not None:
        task.outputs = outputs
    task.manifest_key = manifest_key
    if result is not None:
        task.result = result
    task.finished_at = utcnow()
    if status == TaskStatus.SUCCEEDED:
        task.progress = 1.0
    task.steps = [_ended_step(step, status=status, at=task.finished_at.isoformat()) for step in task.steps]
    _touch(task)
    session.add(task)
    task_finished(session, task)
    webhook_events.task_completed(session, task)
    return True


def _ended_step(step: dict[str, Any], *, status: str, at: str) -> dict[str, Any]:
    """A step as the task's end leaves it. A succeeded task is ended by its last step while that step runs
    (publish commits the end in its own transaction), so the running step succeeded with it — a client that
    reads the task as soon as it is succeeded sees every step succeeded; steps not reached are skipped."""
    if step["status"] == StepStatus.RUNNING and status == TaskStatus.SUCCEEDED:
        return {**step, "status": "succeeded", "finished_at": at}
    if step["status"] in (StepStatus.PENDING, StepStatus.RUNNING):
        return {**step, "status": StepStatus.CANCELLED if status == TaskStatus.CANCELLED else StepStatus.SKIPPED}
    return step


def ensure_cancellable(task: Task) -> None:
    if task.status in TERMINAL:
        raise Conflict(f"task {task.id} already ended ({task.status}); nothing to cancel")


def active_tasks(session: Session) -> list[Task]:
    return list(session.exec(select(Task).where(col(Task.status).in_(list(ACTIVE)))))


def is_stale(task: Task, *, stale_after_seconds: float) -> bool:
    """A running task whose worker has not sent a heartbeat for too long."""
    beat = as_utc(task.heartbeat_at) or as_utc(task.started_at)
    return (
        task.status == TaskStatus.RUNNING
        and beat is not None
        and utcnow() - beat > timedelta(seconds=stale_after_seconds)
    )
