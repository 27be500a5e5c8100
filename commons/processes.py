"""How a child process ended, in words people read (the supervisor's log, a task ended by a worker's death)."""

from __future__ import annotations

import signal


def describe_exit(returncode: int) -> str:
    """How a process ended, as people read it: a signal by name (SIGKILL is most often the OOM killer)."""
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        return f"was killed (signal {number}, {'likely out of memory' if number == signal.SIGKILL else name})"
    return f"exited with code {returncode}"
