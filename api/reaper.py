"""Keeps task rows true to their flow runs: submits tasks left pending, ends tasks whose run ended or
whose worker went silent. A task never stays `running` after its flow run ended."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from api.dispatch import Dispatcher
from commons.db import session_scope
from commons.errors import ServiceUnavailable
from commons.settings import Settings
from registry import tasks as task_rows
from registry.clock import as_utc, utcnow

log = logging.getLogger(__name__)
RESUBMIT_AFTER = timedelta(seconds=3)


def reconcile_once(*, settings: Settings, dispatcher: Dispatcher) -> int:
    """One pass over the active tasks; returns how many rows it changed."""
    changed = 0
    with session_scope(settings.resolved_database_url) as session:
        for task in task_rows.active_tasks(session):
            if task.dispatch_id is None:
                created = as_utc(task.created_at)
                if created is not None and utcnow() - created > RESUBMIT_AFTER:
                    try:
                        task_rows.mark_scheduled(
                            session, task=task, dispatch_id=dispatcher.submit(task.id, lane=task.lane)
                        )
                        changed += 1
                    except ServiceUnavailable as error:
                        log.warning("task %s still waiting for Prefect: %s", task.id, error.message)
                continue
            state = dispatcher.state(task)
            if state is not None and state.terminal:
                status = "cancelled" if state.name.lower() == "cancelled" else "failed"
                reason = state.message or state.name
                changed += task_rows.finish(
                    session, task=task, status=status, error=f"the flow run ended {state.name}: {reason}"
                )
            elif task_rows.is_stale(task, stale_after_seconds=settings.stale_after_seconds):
                changed += task_rows.finish(
                    session,
                    task=task,
                    status="failed",
                    error=f"the worker sent no heartbeat for {settings.stale_after_seconds:.0f} s; it probably died",
                )
                try:
                    dispatcher.cancel(task)
                except Exception as error:
                    log.warning("could not cancel flow run %s of a dead worker: %s", task.flow_run_id, error)
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
