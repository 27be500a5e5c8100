"""The webhooks a user registers for events on their items: all their resources and datasets, or one. Each has
its own signing secret; a user has at most `max_per_user`. Another's webhook answers NotFound."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, NotFound
from registry.models import Dataset, Resource, User, Webhook, WebhookDelivery, WebhookSecret
from registry.rights import dataset_for, resource_for
from registry.webhooks.addresses import AddressPolicy, check_url
from registry.webhooks.signing import new_secret
from registry.webhooks.vocabulary import ItemEvent

WELL_FORMED_ID = re.compile(r"[A-Za-z0-9_]{1,40}")  # webhook and delivery ids; anything else is no id of ours


@dataclass(frozen=True)
class NewWebhook:
    url: str
    events: list[ItemEvent]
    resource: str | None = None  # owner/name of one of the caller's resources
    dataset: str | None = None  # owner/slug (or id) of one of the caller's datasets
    description: str = ""


def _scope(session: Session, owner: User, spec: NewWebhook) -> tuple[str | None, str | None]:
    """The ids of the one resource or dataset the webhook is for (both None: all the owner's items); only the
    owner hears of an item's events."""
    if spec.resource is not None and spec.dataset is not None:
        raise Conflict("a webhook is for one resource, one dataset, or (neither given) all your items; not both")
    item: Resource | Dataset | None = None
    if spec.resource is not None:
        item = resource_for(session, name=spec.resource, user=owner, need="use")
    elif spec.dataset is not None:
        item = dataset_for(session, dataset_id=spec.dataset, user=owner, need="use")
    if item is None:
        return None, None
    if item.owner_id != owner.id:
        raise Forbidden("webhooks on an item are for its owner; ask the owner to register one")
    return (item.id, None) if isinstance(item, Resource) else (None, item.id)


def create_webhook(
    session: Session, *, owner: User, spec: NewWebhook, policy: AddressPolicy, max_per_user: int
) -> Webhook:
    """Register `spec.url` (checked: public addresses only, unless the policy allows more) with a new secret."""
    check_url(spec.url, policy, field="url")
    count = session.exec(select(func.count()).select_from(Webhook).where(Webhook.owner_id == owner.id)).one()
    if count >= max_per_user:
        raise Conflict(f"you have {count} webhooks, the most one user may have; delete one before adding another")
    resource_id, dataset_id = _scope(session, owner, spec)
    row = Webhook(
        owner_id=owner.id,
        url=spec.url,
        events=sorted({event.value for event in spec.events}),
        resource_id=resource_id,
        dataset_id=dataset_id,
        secret=new_secret(),
        description=spec.description,
    )
    session.add(row)
    session.flush()
    return row


def list_webhooks(session: Session, *, owner: User) -> list[Webhook]:
    query = select(Webhook).where(Webhook.owner_id == owner.id).order_by(col(Webhook.created_at))
    return list(session.exec(query))


def webhook_for(session: Session, *, owner: User, webhook_id: str) -> Webhook:
    row = session.get(Webhook, webhook_id) if WELL_FORMED_ID.fullmatch(webhook_id) else None
    if row is None or row.owner_id != owner.id:
        raise NotFound(f"no webhook {webhook_id!r} of yours; list yours at GET /api/v1/webhooks")
    return row


def delete_webhook(session: Session, *, owner: User, webhook_id: str) -> None:
    """Delete the webhook and its deliveries (pending ones are never sent: nothing would sign them)."""
    row = webhook_for(session, owner=owner, webhook_id=webhook_id)
    session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == row.id))
    session.delete(row)
    session.flush()


def task_secret(session: Session, *, owner_id: str) -> str:
    """The owner's secret for their tasks' webhooks, made at first use (as Replicate's default secret)."""
    found = session.get(WebhookSecret, owner_id)
    if found is None:
        found = WebhookSecret(user_id=owner_id, secret=new_secret())
        session.add(found)
        session.flush()
    return found.secret
