"""A background thread that stamps the task row while work runs, so a dead worker is noticed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from registry import tasks as task_rows

log = logging.getLogger(__name__)


@contextmanager
def heartbeat(*, database_url: str, task_id: str, every_seconds: float) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_seconds):
            try:
                task_rows.change_task(
                    database_url, task_id, lambda session, row: task_rows.heartbeat(session, task=row)
                )
            except Exception:  # a missed beat is logged; the next one may succeed
                log.exception("heartbeat for task %s failed", task_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{task_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every_seconds + 1)
