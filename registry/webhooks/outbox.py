"""The outbox of webhook deliveries, which is also the delivery log its owner reads.

An event adds a row in the transaction of the change it reports (`enqueue`; the caller commits), so a delivery
exists exactly when the change does. The sender (services/webhook_delivery.py) claims due rows with a lease
(`claim_due`: a conditional UPDATE, so two API replicas never send one row at once), sends, and records each
attempt (`record_attempt`): succeeded on a 2xx, else retried after 1, 4, 16 … times the base wait until the
attempts run out. A user's log keeps their newest KEEP_PER_USER deliveries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, col, select

from commons.errors import NotFound
from registry.clock import as_utc, new_id, utcnow
from registry.models import Webhook, WebhookDelivery, WebhookSecret

PAYLOAD_LIMIT = 64 * 1024
ERROR_LIMIT = 500
KEEP_PER_USER = 1000
PAGE_LIMIT = 100


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def wait_after(self, attempts: int) -> timedelta:
        """The wait before the next try after `attempts` failed ones: base, 4x base, 16x base … at most max."""
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 4 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Outgoing:
    """What one attempt sends: where, the body, and the key it is signed with."""

    id: str
    url: str
    body: str
    secret: str


def body_of(event: str, data: dict[str, Any]) -> str:
    """The JSON body Standard Webhooks recommends: {"type", "timestamp", "data"}, at most PAYLOAD_LIMIT bytes (a
    larger `data` is replaced by a note to read the item from the API)."""
    envelope = {"type": event, "timestamp": utcnow().isoformat(), "data": data}
    body = json.dumps(envelope, separators=(",", ":"), default=str)
    if len(body.encode()) > PAYLOAD_LIMIT:
        envelope["data"] = {"id": data.get("id"), "truncated": True, "url": data.get("url")}
        body = json.dumps(envelope, separators=(",", ":"), default=str)
    return body


def enqueue(
    session: Session,
    *,
    owner_id: str,
    url: str,
    event: str,
    data: dict[str, Any],
    webhook_id: str | None = None,
    task_id: str | None = None,
) -> WebhookDelivery:
    """Add a delivery of `event` to `url` (not committed): signed with the webhook's secret, or for a task's own
    webhook (`webhook_id` None) with the owner's task-webhook secret."""
    row = WebhookDelivery(
        id=f"msg_{new_id()}",
        owner_id=owner_id,
        webhook_id=webhook_id,
        task_id=task_id,
        event=event,
        url=url,
        payload=body_of(event, data),
    )
    session.add(row)
    session.flush()
    _prune(session, owner_id)
    return row


def _prune(session: Session, owner_id: str) -> None:
    """Drop `owner_id`'s deliveries beyond the newest KEEP_PER_USER (the bound on a log, and on a dead receiver's
    backlog)."""
    count = session.exec(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.owner_id == owner_id)
    ).one()
    if count <= KEEP_PER_USER:
        return
    oldest_kept = session.exec(
        select(WebhookDelivery.created_at)
        .where(WebhookDelivery.owner_id == owner_id)
        .order_by(col(WebhookDelivery.created_at).desc())
        .offset(KEEP_PER_USER - 1)
        .limit(1)
    ).one()
    stale = delete(WebhookDelivery).where(
        col(WebhookDelivery.owner_id) == owner_id, col(WebhookDelivery.created_at) < as_utc(oldest_kept)
    )
    session.execute(stale.execution_options(synchronize_session=False))


def claim_due(session: Session, *, lease: timedelta, limit: int) -> list[str]:
    """Claim up to `limit` due deliveries for `lease` (another sender skips them meanwhile); their ids."""
    now = utcnow()
    free = or_(col(WebhookDelivery.locked_until).is_(None), col(WebhookDelivery.locked_until) < now)
    due = (col(WebhookDelivery.status) == DeliveryStatus.PENDING, col(WebhookDelivery.next_attempt_at) <= now, free)
    ids = session.exec(
        select(WebhookDelivery.id).where(*due).order_by(col(WebhookDelivery.next_attempt_at)).limit(limit)
    ).all()
    claimed = []
    for delivery_id in ids:
        result = session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery_id, *due)
            .values(locked_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    return claimed


def outgoing(session: Session, delivery_id: str) -> Outgoing | None:
    """What to send for a claimed delivery; None when its webhook or secret is gone (nothing may be signed)."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        return None
    secret: str | None
    if row.webhook_id is not None:
        hook = session.get(Webhook, row.webhook_id)
        secret = hook.secret if hook is not None else None
    else:
        found = session.get(WebhookSecret, row.owner_id)
        secret = found.secret if found is not None else None
    if secret is None:
        return None
    return Outgoing(id=row.id, url=row.url, body=row.payload, secret=secret)


def record_attempt(
    session: Session,
    delivery_id: str,
    *,
    policy: RetryPolicy,
    status_code: int | None,
    error: str | None,
    seconds: float,
    final: bool = False,
) -> WebhookDelivery | None:
    """Record one attempt: succeeded (a 2xx), failed (`final`, or the last attempt), else due again after the
    backoff. The lease ends."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.status != DeliveryStatus.PENDING:
        return row
    now = utcnow()
    error = error[:ERROR_LIMIT] if error else None
    row.attempts += 1
    entry = {"at": now.isoformat(), "status_code": status_code, "error": error, "seconds": round(seconds, 3)}
    row.attempt_log = [*row.attempt_log, entry][-policy.max_attempts :]
    row.last_status_code, row.last_error, row.locked_until = status_code, error, None
    succeeded = error is None and status_code is not None and 200 <= status_code < 300
    if succeeded or final or row.attempts >= policy.max_attempts:
        row.status = DeliveryStatus.SUCCEEDED if succeeded else DeliveryStatus.FAILED
        row.finished_at = now
    else:
        row.next_attempt_at = now + policy.wait_after(row.attempts)
    session.add(row)
    session.flush()
    return row


def list_for(
    session: Session,
    *,
    owner_id: str,
    webhook_id: str | None = None,
    task_id: str | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """`owner_id`'s newest deliveries (at most `limit`, ≤ PAGE_LIMIT), of one webhook or task when given."""
    query = select(WebhookDelivery).where(WebhookDelivery.owner_id == owner_id)
    if webhook_id is not None:
        query = query.where(WebhookDelivery.webhook_id == webhook_id)
    if task_id is not None:
        query = query.where(WebhookDelivery.task_id == task_id)
    query = query.order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
    return list(session.exec(query.limit(max(1, min(limit, PAGE_LIMIT)))))


def delivery_for(session: Session, *, owner_id: str, delivery_id: str) -> WebhookDelivery:
    row = session.get(WebhookDelivery, delivery_id) if re.fullmatch(r"[A-Za-z0-9_]{1,40}", delivery_id) else None
    if row is None or row.owner_id != owner_id:
        raise NotFound(f"no webhook delivery {delivery_id!r} of yours; list yours at GET /api/v1/webhooks/deliveries")
    return row
