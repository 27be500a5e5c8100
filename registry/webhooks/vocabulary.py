"""The events webhooks carry.

A task's own `webhook` hears the events Replicate's predictions send, by the same names in
`webhook_events_filter`: start (the task started running), output (an epoch's figures, or the outputs once
published), logs (a step started or ended), completed (it ended: succeeded, failed or cancelled). Without a filter:
output and completed, as Replicate. A registered webhook hears events on its owner's items."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class TaskEvent(StrEnum):
    START = "start"
    OUTPUT = "output"
    LOGS = "logs"
    COMPLETED = "completed"


class ItemEvent(StrEnum):
    VERSION_CREATED = "version.created"  # a new version of the owner's resource
    ACCESS_REQUESTED = "access.requested"  # someone asks for a right on the owner's resource or dataset
    TASK_ENDED = "task.ended"  # a task that ran the owner's resource or read their dataset ended


PING: Final = "webhook.ping"
DEFAULT_TASK_EVENTS: Final = (TaskEvent.OUTPUT, TaskEvent.COMPLETED)
# A task's output and logs events stop after this many deliveries (completed is always sent).
MAX_EVENTS_PER_TASK: Final = 100


def task_event_type(event: TaskEvent) -> str:
    """The `type` a task event's body carries: task.start, task.output, task.logs, task.completed."""
    return f"task.{event.value}"
