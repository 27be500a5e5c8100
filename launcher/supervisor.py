"""Keeps `commons up`'s children running: a child that dies is started again, alone, after a backoff.

One API or warm worker killed for memory must not stop the whole commons: only the dead child restarts
(the others keep their processes), after `restart_delay_seconds` doubling up to `restart_max_delay_seconds`.
A child that dies `restart_limit` times within `restart_window_seconds` is crash-looping (a bad setting, a
port taken): it is given up on with a message, and the other services keep running.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from commons.processes import describe_exit
from commons.settings import Settings
from launcher.stack import Child, Stack

log = logging.getLogger(__name__)
WARM_WORKER_PREFIX = "warm-worker-"


@dataclass
class _Watch:
    """One child's recent deaths and its pending restart."""

    deaths: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    given_up: bool = False


class Supervisor:
    """Call `check()` every fraction of a second from `commons up`'s main loop."""

    def __init__(
        self,
        stack: Stack,
        *,
        say: Callable[[str], None] = print,
        on_death: Callable[[Child, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.settings: Settings = stack.settings
        self.say = say
        self.on_death = on_death
        self.clock = clock
        self._watches: dict[str, _Watch] = {}

    def given_up(self) -> list[str]:
        return [name for name, watch in self._watches.items() if watch.given_up]

    def check(self) -> None:
        now = self.clock()
        for child in list(self.stack.children):
            watch = self._watches.setdefault(child.name, _Watch())
            if watch.given_up or watch.restart_at is not None:
                continue
            returncode = child.process.poll()
            if returncode is not None:
                self._died(child, returncode, watch, now)
        for child in list(self.stack.children):
            watch = self._watches[child.name]
            if watch.restart_at is not None and now >= watch.restart_at:
                watch.restart_at = None
                again = self.stack.restart(child)
                self.say(f"restarted {child.name} (pid {again.process.pid})")

    def _died(self, child: Child, returncode: int, watch: _Watch, now: float) -> None:
        how = describe_exit(returncode)
        if self.on_death is not None:
            try:
                self.on_death(child, returncode)
            except Exception:  # the restart matters more than the bookkeeping
                log.exception("cleaning up after %s failed", child.name)
        watch.deaths.append(now)
        while watch.deaths and now - watch.deaths[0] > self.settings.restart_window_seconds:
            watch.deaths.popleft()
        recent = len(watch.deaths)
        if recent >= self.settings.restart_limit:
            watch.given_up = True
            self.say(
                f"{child.name} (pid {child.process.pid}) {how}; it died {recent} times within "
                f"{self.settings.restart_window_seconds:.0f} s, so it is not restarted again; the other services "
                f"keep running. See {child.log_path}"
            )
            return
        delay = min(self.settings.restart_delay_seconds * 2 ** (recent - 1), self.settings.restart_max_delay_seconds)
        watch.restart_at = now + delay
        at = (datetime.now() + timedelta(seconds=delay)).strftime("%H:%M:%S")
        self.say(
            f"{child.name} (pid {child.process.pid}) {how}; restarting it in {delay:g} s (at {at}), "
            f"death {recent} of {self.settings.restart_limit} allowed within "
            f"{self.settings.restart_window_seconds:.0f} s. See {child.log_path}"
        )
