"""Keeps task rows true to their flow runs: submits tasks left pending, ends tasks whose run ended or
whose worker went silent. A task never stays `running` after its flow run ended."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import partial

from prefect.client.schemas.objects import StateType
from sqlmodel import Session, select

from commons.db import session_scope
from commons.errors import ExecutionNotAllowed, ServiceUnavailable
from commons.settings import Settings
from registry import tasks as task_rows
from registry.clock import as_utc, utcnow
from registry.models import Task
from registry.versions import execution_of
from registry.vocabulary import TaskStatus
from services.dispatch import Dispatcher, RunState, fail_not_allowed

log = logging.getLogger(__name__)
# The API hands new tasks to Prefect in the background; only a task still unsubmitted this long after it was
# stored (Prefect was away, or the API stopped in between) is the reaper's to submit.
RESUBMIT_AFTER = timedelta(seconds=30)


def _schedule(session: Session, row: Task, *, dispatch_id: str) -> None:
    task_rows.mark_scheduled(session, task=row, dispatch_id=dispatch_id)


def _finish(session: Session, row: Task, *, status: str, reason: str) -> bool:
    return task_rows.finish(session, task=row, status=status, error=reason)


def reconcile_once(*, settings: Settings, dispatcher: Dispatcher) -> int:
    """One pass over the active tasks; returns how many rows it changed.

    Decisions are taken on a snapshot; every write goes through `change_task`, which re-reads the row, so a
    worker's concurrent update is never overwritten (and a task it just finished is left alone).
    """
    url = settings.resolved_database_url
    with session_scope(url) as session:
        snapshot = task_rows.active_tasks(session)
    changed = 0
    for task in snapshot:
        if task.dispatch_id is None:
            created = as_utc(task.created_at)
            if created is not None and utcnow() - created > RESUBMIT_AFTER:
                with session_scope(url) as session:
                    execution = execution_of(session, version_id=task.version_id) if task.version_id else None
                try:
                    dispatch_id = dispatcher.submit(task.id, lane=task.lane, execution=execution)
                except ServiceUnavailable as error:
                    log.warning("task %s still waiting for Prefect: %s", task.id, error.message)
                    continue
                except ExecutionNotAllowed as error:
                    changed += fail_not_allowed(settings, task.id, error)
                    continue
                task_rows.change_task(url, task.id, partial(_schedule, dispatch_id=dispatch_id))
                changed += 1
            continue
        state = dispatcher.state(task)
        if state is not None and state.terminal and _crashed_before_start(task, state):
            changed += _resubmit_or_fail(settings, dispatcher, task, state)
            continue
        if state is not None and state.terminal:
            status = "cancelled" if state.type == StateType.CANCELLED else "failed"
            reason = f"the flow run ended {state.name}: {state.message or state.name}"
        elif task_rows.is_stale(task, stale_after_seconds=settings.stale_after_seconds):
            status = "failed"
            reason = f"the worker sent no heartbeat for {settings.stale_after_seconds:.0f} s; it probably died"
            try:  # no worker is left to move a Cancelling run on: end it in Prefect now
                dispatcher.end_run(task, message=reason)
            except Exception as cancel_error:
                log.warning("could not end the Prefect run of task %s of a dead worker: %s", task.id, cancel_error)
        else:
            continue
        changed += task_rows.change_task(url, task.id, partial(_finish, status=status, reason=reason))
    _end_stuck_cancellations(settings=settings, dispatcher=dispatcher)
    return changed


def _crashed_before_start(task: Task, state: RunState) -> bool:
    """The run crashed or failed while the task still waited for it (never claimed, e.g. Prefect answered 503
    while the run started): the task has done nothing yet, so it can simply be run again."""
    unstarted = task.status in (TaskStatus.PENDING, TaskStatus.SCHEDULED) and task.started_at is None
    return unstarted and state.type in (StateType.CRASHED, StateType.FAILED)


def _resubmit_or_fail(settings: Settings, dispatcher: Dispatcher, task: Task, state: RunState) -> int:
    """Resubmit a task whose run crashed before it started, up to `task_resubmit_attempts` times; then fail it
    with the reason. Returns 1 when the row changed."""
    url = settings.resolved_database_url
    why = f"its Prefect run ended {state.name} before the task started ({state.message or 'no message'})"
    if state.attempt >= settings.task_resubmit_attempts:
        reason = f"{why}; resubmitted {state.attempt} time(s), giving up"
        ended = partial(_finish_unstarted, previous=task.dispatch_id, reason=reason)
        return int(task_rows.change_task(url, task.id, ended))
    with session_scope(url) as session:
        execution = execution_of(session, version_id=task.version_id) if task.version_id else None
    try:
        dispatch_id = dispatcher.submit(task.id, lane=task.lane, execution=execution, attempt=state.attempt + 1)
    except ServiceUnavailable as error:
        log.warning("task %s: %s; Prefect refused its resubmission: %s", task.id, why, error.message)
        return 0
    except ExecutionNotAllowed as error:
        return int(fail_not_allowed(settings, task.id, error))
    log.warning(
        "task %s: %s; resubmitted (attempt %d of %d)", task.id, why, state.attempt + 1, settings.task_resubmit_attempts
    )
    rescheduled = partial(_reschedule, previous=task.dispatch_id, dispatch_id=dispatch_id)
    return int(task_rows.change_task(url, task.id, rescheduled))


def _still_unstarted(row: Task, previous: str | None) -> bool:
    """The row is as the decision saw it: not started, still on the run that crashed."""
    return (
        row.status in (TaskStatus.PENDING, TaskStatus.SCHEDULED)
        and row.started_at is None
        and row.dispatch_id == previous
    )


def _reschedule(session: Session, row: Task, *, previous: str | None, dispatch_id: str) -> bool:
    if not _still_unstarted(row, previous):
        return False
    task_rows.mark_scheduled(session, task=row, dispatch_id=dispatch_id)
    return True


def _finish_unstarted(session: Session, row: Task, *, previous: str | None, reason: str) -> bool:
    if not _still_unstarted(row, previous):
        return False
    return task_rows.finish(session, task=row, status=TaskStatus.FAILED, error=reason)


def _end_stuck_cancellations(*, settings: Settings, dispatcher: Dispatcher) -> int:
    """End `Cancelled` the deployment's flow runs left `Cancelling` longer than `stale_after_seconds` whose task
    already ended: the worker that should have stopped them is gone (a cancel while it was down, or before an
    API restart), and nothing else would ever move them on. Returns how many it ended."""
    try:
        stuck = dispatcher.stuck_cancelling(older_than=timedelta(seconds=settings.stale_after_seconds))
    except Exception as error:
        log.warning("could not list the flow runs left Cancelling: %s", error)
        return 0
    ended = 0
    for run_id in stuck:
        with session_scope(settings.resolved_database_url) as session:
            row = session.exec(select(Task).where(Task.flow_run_id == run_id)).first()
            task_ended = row is not None and row.status in task_rows.TERMINAL
        if not task_ended:
            continue  # an active task: the heartbeat check above decides about it
        try:
            dispatcher.force_cancelled(
                run_id, message="its worker never confirmed the cancellation; ended by the reaper"
            )
        except Exception as error:
            log.warning("could not end flow run %s left Cancelling: %s", run_id, error)
            continue
        ended += 1
    return ended


def end_overdue_tasks(*, settings: Settings, dispatcher: Dispatcher) -> int:
    """End every running task that has run longer than its mode's time limit (`COMMONS_TASK_TIME_LIMIT_<MODE>`,
    counted from `started_at`: time queued is not run time): failed, with the reason, and its Prefect run
    cancelled (a batch run's process is killed; a warm worker stops at its next step or image, as it does for a
    cancel). Returns how many tasks it ended.

    The limit is enforced here rather than by a Prefect `timeout_seconds`: the warm lane runs its steps as plain
    calls inside one long-lived task run, which a Prefect timeout could not stop cleanly, and one place keeps one
    rule and one message for both lanes.
    """
    url = settings.resolved_database_url
    with session_scope(url) as session:
        running = list(session.exec(select(Task).where(Task.status == TaskStatus.RUNNING)))
    ended = 0
    for task in running:
        limit: float | None = getattr(settings, f"task_time_limit_{task.mode}", None)
        started = as_utc(task.started_at)
        if limit is None or started is None or (utcnow() - started).total_seconds() <= limit:
            continue
        reason = (
            f"ran longer than its limit of {limit:g} s for mode {task.mode}; ask an admin to raise "
            f"COMMONS_TASK_TIME_LIMIT_{task.mode.upper()}"
        )
        if not task_rows.change_task(url, task.id, partial(_finish, status=TaskStatus.FAILED, reason=reason)):
            continue  # it ended meanwhile
        ended += 1
        log.warning("task %s %s", task.id, reason)
        try:
            dispatcher.cancel(task)
        except Exception as error:  # the row has ended; the flow checks it before publishing
            log.warning("could not cancel the run of overdue task %s: %s", task.id, error)
    return ended


class Reaper:
    def __init__(self, *, settings: Settings, dispatcher: Dispatcher) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="task-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.settings.reaper_interval_seconds + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.reaper_interval_seconds):
            try:
                reconcile_once(settings=self.settings, dispatcher=self.dispatcher)
            except Exception:  # one bad pass must not stop the next
                log.exception("task reconciliation failed")
            try:
                end_overdue_tasks(settings=self.settings, dispatcher=self.dispatcher)
            except Exception:
                log.exception("ending tasks over their time limit failed")
