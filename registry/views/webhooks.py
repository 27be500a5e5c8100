"""Webhooks and their deliveries as their owner reads them."""

from __future__ import annotations

import json

from sqlmodel import Session

from registry.clock import as_utc
from registry.models import Dataset, Resource, Webhook, WebhookDelivery
from registry.notification_events import item_ref
from registry.views.base import view
from registry.webhooks.outbox import DeliveryStatus
from registry.webhooks.schemas import DeliveryDetail, DeliveryPublic, WebhookCreated, WebhookPublic


def webhook_view(session: Session, row: Webhook) -> WebhookPublic:
    resource = session.get(Resource, row.resource_id) if row.resource_id else None
    dataset = session.get(Dataset, row.dataset_id) if row.dataset_id else None
    return view(
        WebhookPublic,
        row,
        resource=item_ref(session, resource) if resource is not None else None,
        dataset=item_ref(session, dataset) if dataset is not None else None,
        created_at=as_utc(row.created_at),
    )


def webhook_created_view(session: Session, row: Webhook) -> WebhookCreated:
    return WebhookCreated(**webhook_view(session, row).model_dump(), secret=row.secret)


def delivery_view(row: WebhookDelivery) -> DeliveryPublic:
    pending = row.status == DeliveryStatus.PENDING
    return view(
        DeliveryPublic,
        row,
        next_attempt_at=as_utc(row.next_attempt_at) if pending else None,
        created_at=as_utc(row.created_at),
        finished_at=as_utc(row.finished_at),
    )


def delivery_detail(row: WebhookDelivery) -> DeliveryDetail:
    return DeliveryDetail(**delivery_view(row).model_dump(), payload=json.loads(row.payload))
