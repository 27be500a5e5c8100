"""Progress of automatic masks, batch by batch: the task's progress bar and a log line with the time left.

Automatic masks run the mask decoder over batches of prompt points (`points_per_batch`), on the whole photo and
on each crop. Each batch moves the task's progress; a log line (at most one every LOG_EVERY_SECONDS, and the
last batch of each photo) says which batch of which photo ran and estimates the time left from the batches done.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Final

from flows.steps.reporting import Reporter

LOG_EVERY_SECONDS: Final[float] = 5.0


def run_log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The Prefect run's logger (its lines are the task's logs, GET /tasks/{id}/logs), or this module's
    logger outside a run (a runner called directly, as in tests)."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def seconds_left(*, elapsed: float, done: float) -> float | None:
    """The time left when the fraction `done` (0–1) of the work took `elapsed` seconds; None before any."""
    if done <= 0 or not math.isfinite(elapsed):
        return None
    return max(0.0, elapsed * (1 - done) / done)


def shown_seconds(seconds: float) -> str:
    """ "about 40 s" / "about 3 min" for a log line."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


class BatchProgress:
    """Batches of automatic masks over `count` photos, reported to the task and the run's log."""

    def __init__(self, report: Reporter, *, count: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._report = report
        self._count = max(count, 1)
        self._clock = clock
        self._start: tuple[float, float] | None = None  # (time, fraction) at the first batch
        self._last_log = -math.inf
        self._log = run_log()

    def for_photo(self, index: int) -> Callable[[int, int], None]:
        """The `on_batch(done, total)` callback for photo `index` (0-based)."""
        return partial(self.batch, index)

    def batch(self, index: int, done: int, total: int) -> None:
        """Before batch `done` (0-based) of `total` on photo `index`: move the bar, perhaps log a line."""
        total = max(total, 1)
        fraction = (index + done / total) / self._count
        self._report.progress(fraction)
        now = self._clock()
        if self._start is None:
            self._start = (now, fraction)
        if done == 0 or (now - self._last_log < LOG_EVERY_SECONDS and done < total - 1):
            return
        self._last_log = now
        started, at = self._start
        left = seconds_left(elapsed=now - started, done=(fraction - at) / (1 - at) if at < 1 else 1.0)
        estimate = f"; {shown_seconds(left)} left" if left is not None else ""
        self._log.info(
            "photo %d of %d: %d of %d batches of points done (%d %%)%s",
            index + 1,
            self._count,
            done,
            total,
            round(100 * fraction),
            estimate,
        )
