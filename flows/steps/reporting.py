"""What a work step tells the task row while it runs: progress, finished epochs, and whether to stop."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import Session

from commons.db import session_scope
from registry import tasks as task_rows
from registry.models import Task

PROGRESS_INTERVAL_SECONDS = 0.5
STOP_CHECK_SECONDS = 1.0
# The work step owns the middle third of a task's progress bar (init and publish the others).
WORK_START, WORK_SPAN = 1 / 3, 1 / 3


class TaskCancelled(Exception):
    """The task row was cancelled while the flow ran; the flow stops at the next check and publishes nothing."""


def stop_if_cancelled(task: Task) -> None:
    if task.status in task_rows.TERMINAL:
        raise TaskCancelled(f"task {task.id} ended ({task.status}) while running")


class Reporter:
    """Writes to one task row on behalf of a runner; every write first checks that the task still runs."""

    def __init__(self, *, database_url: str, task_id: str) -> None:
        self.database_url = database_url
        self.task_id = task_id
        self._last_progress = 0.0
        self._last_stop_check = 0.0
        self._stopped = False

    def progress(self, fraction: float) -> None:
        """Record that `fraction` (0–1) of the work is done, at most twice a second; TaskCancelled if cancelled."""
        now = time.monotonic()
        if fraction < 1 and now - self._last_progress < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_progress = now

        def change(session: Session, row: Task) -> None:
            stop_if_cancelled(row)
            task_rows.set_progress(session, task=row, progress=WORK_START + WORK_SPAN * fraction)

        task_rows.change_task(self.database_url, self.task_id, change)

    def epoch(self, record: dict[str, Any], *, fraction: float) -> None:
        """Append a finished epoch's figures to the task (they feed GET /tasks/{id}/metrics and the events)."""

        def change(session: Session, row: Task) -> None:
            stop_if_cancelled(row)
            task_rows.add_epoch(session, task=row, record=record, progress=WORK_START + WORK_SPAN * fraction)

        task_rows.change_task(self.database_url, self.task_id, change)

    def should_stop(self) -> bool:
        """Whether the task was cancelled (the row is read at most once a second); cheap to ask per batch."""
        now = time.monotonic()
        if self._stopped or now - self._last_stop_check < STOP_CHECK_SECONDS:
            return self._stopped
        self._last_stop_check = now
        with session_scope(self.database_url) as session:
            self._stopped = task_rows.get_task(session, self.task_id).status in task_rows.TERMINAL
        return self._stopped
