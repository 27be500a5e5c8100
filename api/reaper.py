"""Keeps task rows true to their flow runs: submits tasks left pending, ends tasks whose run ended or
whose worker went silent. A task never stays `running` after its flow run ended."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import partial

from prefect.client.schemas.objects import StateType
from sqlmodel import Session

from api.dispatch import Dispatcher, fail_not_allowed
from commons.db import session_scope
from commons.errors import ExecutionNotAllowed, ServiceUnavailable
from commons.settings import Settings
from registry import tasks as task_rows
from registry.clock import as_utc, utcnow
from registry.models import Task
from registry.versions import execution_of

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
        if state is not None and state.terminal:
            status = "cancelled" if state.type == StateType.CANCELLED else "failed"
            reason = f"the flow run ended {state.name}: {state.message or state.name}"
        elif task_rows.is_stale(task, stale_after_seconds=settings.stale_after_seconds):
            status = "failed"
            reason = f"the worker sent no heartbeat for {settings.stale_after_seconds:.0f} s; it probably died"
            try:
                dispatcher.cancel(task)
            except Exception as cancel_error:
                log.warning("could not cancel flow run %s of a dead worker: %s", task.flow_run_id, cancel_error)
        else:
            continue
        changed += task_rows.change_task(url, task.id, partial(_finish, status=status, reason=reason))
    return changed


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
