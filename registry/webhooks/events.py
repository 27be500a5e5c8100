"""Webhook deliveries of what happens, added to the outbox in the transaction of the change (as the inbox's
messages are, registry/notification_events.py): called from registry/tasks.py (a task starts, reports, ends),
registry/versions.py (a new version) and registry/rights/requests.py (an access request)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, or_, select

from registry.models import (
    AccessRequest,
    Dataset,
    DatasetAccessRequest,
    Resource,
    ResourceVersion,
    Task,
    TaskWebhook,
    User,
    Webhook,
    WebhookDelivery,
)
from registry.vocabulary import TERMINAL, TaskStatus
from registry.webhooks import outbox, payloads
from registry.webhooks.vocabulary import MAX_EVENTS_PER_TASK, PING, ItemEvent, TaskEvent, task_event_type


def _to_task_webhook(session: Session, task: Task, event: TaskEvent, *, final: bool = False, **extra: Any) -> None:
    """One delivery to the task's own webhook, when it has one that wants `event` (output and logs: at most
    MAX_EVENTS_PER_TASK per task; none after the task ended, but the outputs and completed of its ending: `final`)."""
    if event is not TaskEvent.COMPLETED and task.status in TERMINAL and not final:
        return  # completed is the last word (a step the ending closes reports nothing after it)
    hook = session.get(TaskWebhook, task.id)
    if hook is None or event.value not in hook.events:
        return
    if event is not TaskEvent.COMPLETED and hook.sent >= MAX_EVENTS_PER_TASK:
        return
    hook.sent += 1
    session.add(hook)
    outbox.enqueue(
        session,
        owner_id=task.owner_id,
        url=hook.url,
        event=task_event_type(event),
        data={**payloads.task_full(session, task), **extra},
        task_id=task.id,
    )


def _to_subscribers(
    session: Session,
    *,
    owner_id: str,
    event: ItemEvent,
    item: Resource | Dataset,
    data: dict[str, Any],
    task_id: str | None = None,
) -> None:
    """One delivery to each of the item owner's webhooks that wants `event` and covers the item."""
    scope = Webhook.resource_id if isinstance(item, Resource) else Webhook.dataset_id
    hooks = session.exec(
        select(Webhook).where(
            Webhook.owner_id == owner_id,
            or_(col(scope) == item.id, (col(Webhook.resource_id).is_(None)) & (col(Webhook.dataset_id).is_(None))),
        )
    ).all()
    for hook in hooks:
        if event.value in hook.events:
            outbox.enqueue(
                session,
                owner_id=owner_id,
                url=hook.url,
                event=event.value,
                data=data,
                webhook_id=hook.id,
                task_id=task_id,
            )


def task_started(session: Session, task: Task) -> None:
    _to_task_webhook(session, task, TaskEvent.START)


def task_step(session: Session, task: Task, *, step: str, status: str) -> None:
    """A step started or ended: the task's `logs` event, with the line."""
    _to_task_webhook(session, task, TaskEvent.LOGS, log=f"{step} {status}")


def task_output(session: Session, task: Task) -> None:
    """New figures (an epoch) or outputs: the task's `output` event."""
    _to_task_webhook(session, task, TaskEvent.OUTPUT)


def task_completed(session: Session, task: Task) -> None:
    """The task ended: its outputs (when it published some), then `completed`; and the owners of the resource it
    ran and the dataset it read hear `task.ended` (who ran what, and how it ended; nothing of its results)."""
    if task.status == TaskStatus.SUCCEEDED and task.outputs:
        _to_task_webhook(session, task, TaskEvent.OUTPUT, final=True)
    _to_task_webhook(session, task, TaskEvent.COMPLETED)
    items: list[Resource | Dataset] = []
    resource = session.get(Resource, task.resource_id) if task.resource_id else None
    dataset = session.get(Dataset, task.dataset_id) if task.dataset_id else None
    items += [item for item in (resource, dataset) if item is not None]
    for item in items:
        data = payloads.task_on_item(session, task, item)
        ended = ItemEvent.TASK_ENDED
        _to_subscribers(session, owner_id=item.owner_id, event=ended, item=item, data=data, task_id=task.id)


def version_created(session: Session, resource: Resource, version: ResourceVersion, actor: User) -> None:
    data = payloads.version_data(session, resource, version, actor)
    _to_subscribers(session, owner_id=resource.owner_id, event=ItemEvent.VERSION_CREATED, item=resource, data=data)


def access_requested(
    session: Session, *, request: AccessRequest | DatasetAccessRequest, item: Resource | Dataset, requester: User
) -> None:
    data = payloads.request_data(session, request, item, requester)
    _to_subscribers(session, owner_id=item.owner_id, event=ItemEvent.ACCESS_REQUESTED, item=item, data=data)


def ping(session: Session, hook: Webhook) -> WebhookDelivery:
    """A `webhook.ping` to one webhook, to try the receiver and its signature check."""
    data = {"webhook": hook.id, "events": list(hook.events)}
    return outbox.enqueue(session, owner_id=hook.owner_id, url=hook.url, event=PING, data=data, webhook_id=hook.id)
