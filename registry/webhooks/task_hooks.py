"""A task's own `webhook` (as Replicate's predictions take one): checked when the task is submitted, kept beside
it with the events it wants, signed with the submitter's task-webhook secret."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from registry.models import Task, TaskWebhook
from registry.webhooks.addresses import AddressPolicy, check_url
from registry.webhooks.subscriptions import task_secret
from registry.webhooks.vocabulary import DEFAULT_TASK_EVENTS, TaskEvent


def check_task_webhook(url: str, policy: AddressPolicy) -> None:
    """InvalidInput (422, field `webhook`) unless `url` may receive webhooks."""
    check_url(url, policy, field="webhook")


def attach(session: Session, task: Task, *, url: str, events: Sequence[str] | None) -> TaskWebhook:
    """Keep the task's webhook (not committed); without `events`, output and completed."""
    wanted = sorted({TaskEvent(event).value for event in (events or DEFAULT_TASK_EVENTS)})
    task_secret(session, owner_id=task.owner_id)  # the key its deliveries are signed with exists from now on
    row = TaskWebhook(task_id=task.id, url=url, events=wanted)
    session.add(row)
    session.flush()
    return row
