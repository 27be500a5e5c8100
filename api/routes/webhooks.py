"""Webhooks: register URLs for events on your items, read each one's delivery log, and get the key your tasks'
own webhooks are signed with. Deliveries are signed as Standard Webhooks and retried with backoff; only public
addresses are reached unless an admin allows more (a refused address is a 422 here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.deps import CurrentUser, SessionDep
from commons.webhook_settings import WebhookSettings
from registry.views.webhooks import delivery_detail, delivery_view, webhook_created_view, webhook_view
from registry.webhooks import events, outbox, subscriptions
from registry.webhooks.addresses import AddressPolicy
from registry.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPublic,
    PingSent,
    SigningSecret,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


async def get_webhook_settings(request: Request) -> WebhookSettings:
    settings: WebhookSettings = request.app.state.webhook_settings
    return settings


WebhookSettingsDep = Annotated[WebhookSettings, Depends(get_webhook_settings)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
def create(
    spec: WebhookCreate, user: CurrentUser, session: SessionDep, settings: WebhookSettingsDep, response: Response
) -> WebhookCreated:
    """Register a URL for events on your items (all of them, or one `resource` or `dataset`). The answer holds
    its signing `secret`. 422 when the URL's host resolves to a loopback, private or link-local address."""
    new = subscriptions.NewWebhook(
        url=spec.url, events=spec.events, resource=spec.resource, dataset=spec.dataset, description=spec.description
    )
    row = subscriptions.create_webhook(
        session, owner=user, spec=new, policy=AddressPolicy.from_settings(settings), max_per_user=settings.max_per_user
    )
    response.headers["Location"] = f"/api/v1/webhooks/{row.id}"
    return webhook_created_view(session, row)


@router.get("", response_model=list[WebhookPublic])
def list_webhooks(user: CurrentUser, session: SessionDep) -> list[WebhookPublic]:
    """Your webhooks, oldest first."""
    return [webhook_view(session, row) for row in subscriptions.list_webhooks(session, owner=user)]


@router.get("/default/secret", response_model=SigningSecret)
def default_secret(user: CurrentUser, session: SessionDep) -> SigningSecret:
    """The key the webhooks your tasks name are signed with (the same for all your tasks, as Replicate's)."""
    return SigningSecret(key=subscriptions.task_secret(session, owner_id=user.id))


@router.get("/deliveries", response_model=list[DeliveryPublic])
def deliveries(
    user: CurrentUser,
    session: SessionDep,
    task: str | None = Query(
        None, pattern=r"^[A-Za-z0-9]{1,32}$", description="Only the deliveries about this task (its id)."
    ),
    limit: int = Query(50, ge=1, le=outbox.PAGE_LIMIT),
) -> list[DeliveryPublic]:
    """Your deliveries, newest first: registered webhooks' and your tasks' own."""
    return [delivery_view(row) for row in outbox.list_for(session, owner_id=user.id, task_id=task, limit=limit)]


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def delivery(delivery_id: str, user: CurrentUser, session: SessionDep) -> DeliveryDetail:
    """One delivery with the body it sends."""
    return delivery_detail(outbox.delivery_for(session, owner_id=user.id, delivery_id=delivery_id))


@router.get("/{webhook_id}", response_model=WebhookPublic)
def read(webhook_id: str, user: CurrentUser, session: SessionDep) -> WebhookPublic:
    return webhook_view(session, subscriptions.webhook_for(session, owner=user, webhook_id=webhook_id))


@router.get("/{webhook_id}/secret", response_model=SigningSecret)
def secret(webhook_id: str, user: CurrentUser, session: SessionDep) -> SigningSecret:
    """The webhook's signing key."""
    return SigningSecret(key=subscriptions.webhook_for(session, owner=user, webhook_id=webhook_id).secret)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryPublic])
def webhook_deliveries(
    webhook_id: str, user: CurrentUser, session: SessionDep, limit: int = Query(50, ge=1, le=outbox.PAGE_LIMIT)
) -> list[DeliveryPublic]:
    """The webhook's delivery log, newest first: each delivery's status, attempts, and every attempt's answer."""
    hook = subscriptions.webhook_for(session, owner=user, webhook_id=webhook_id)
    rows = outbox.list_for(session, owner_id=user.id, webhook_id=hook.id, limit=limit)
    return [delivery_view(row) for row in rows]


@router.post("/{webhook_id}/ping", status_code=status.HTTP_202_ACCEPTED, response_model=PingSent)
def ping(webhook_id: str, user: CurrentUser, session: SessionDep) -> PingSent:
    """Send a `webhook.ping` event to the webhook (try the receiver and its signature check)."""
    hook = subscriptions.webhook_for(session, owner=user, webhook_id=webhook_id)
    return PingSent(delivery=delivery_view(events.ping(session, hook)))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(webhook_id: str, user: CurrentUser, session: SessionDep) -> Response:
    """Delete the webhook and its delivery log; what it had not yet sent is never sent."""
    subscriptions.delete_webhook(session, owner=user, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
