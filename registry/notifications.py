"""The in-app inbox: messages to a user about what others did for or to them (an access request approved or
denied, a task of theirs finished, someone asking for access to their resource or dataset).

`notify` adds one message in the caller's transaction (the caller commits), so a notification exists exactly
when the change it reports was committed. An inbox keeps its newest `KEEP_PER_USER` messages: older ones are
dropped as new ones arrive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from commons.errors import NotFound
from registry.clock import as_utc, utcnow
from registry.models import Notification

TEXT_LIMIT = 500
LINK_LIMIT = 300
KEEP_PER_USER = 500
PAGE_LIMIT = 100


class NotificationKind(StrEnum):
    ACCESS_APPROVED = "access_approved"
    ACCESS_DENIED = "access_denied"
    ACCESS_REQUESTED = "access_requested"
    TASK_FINISHED = "task_finished"


def notify(session: Session, *, user_id: str, kind: NotificationKind, text: str, link: str = "") -> Notification:
    """Add a message to `user_id`'s inbox (not committed). `link` must be a path in the commons ("/tasks/…")."""
    if link and (not link.startswith("/") or link.startswith("//")):
        raise ValueError(f"a notification links to a page of the commons, not {link!r}")
    row = Notification(user_id=user_id, kind=kind.value, text=text[:TEXT_LIMIT], link=link[:LINK_LIMIT])
    session.add(row)
    session.flush()
    _prune(session, user_id)
    return row


def _prune(session: Session, user_id: str) -> None:
    """Drop `user_id`'s messages beyond the newest KEEP_PER_USER (the bound on an inbox's size)."""
    count = session.exec(select(func.count()).select_from(Notification).where(Notification.user_id == user_id)).one()
    if count <= KEEP_PER_USER:
        return
    oldest_kept = session.exec(
        select(Notification.created_at)
        .where(Notification.user_id == user_id)
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        .offset(KEEP_PER_USER - 1)
        .limit(1)
    ).one()
    stale = delete(Notification).where(
        col(Notification.user_id) == user_id, col(Notification.created_at) < as_utc(oldest_kept)
    )
    session.execute(stale.execution_options(synchronize_session=False))


def list_for(
    session: Session, *, user_id: str, unread_only: bool = False, limit: int = 50, before: datetime | None = None
) -> list[Notification]:
    """`user_id`'s messages, newest first: at most `limit` (≤ PAGE_LIMIT), older than `before` when given."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    if before is not None:
        query = query.where(col(Notification.created_at) < _in_utc(before))
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    return list(session.exec(query.limit(max(1, min(limit, PAGE_LIMIT)))))


def _in_utc(moment: datetime) -> datetime:
    """`moment` in UTC (SQLite compares the stored text); a moment too early to convert is the earliest one."""
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def unread_count(session: Session, *, user_id: str) -> int:
    query = select(func.count()).select_from(Notification)
    return session.exec(query.where(Notification.user_id == user_id, col(Notification.read_at).is_(None))).one()


def mark_read(session: Session, *, user_id: str, notification_id: str) -> Notification:
    """Mark one of `user_id`'s messages read (once: the first reading's time is kept). Another's: NotFound."""
    well_formed = len(notification_id) <= 32 and notification_id.isascii() and notification_id.isalnum()
    row = session.get(Notification, notification_id) if well_formed else None
    if row is None or row.user_id != user_id:
        raise NotFound(f"no message {notification_id!r} in your inbox; list yours at GET /api/v1/notifications")
    if row.read_at is None:
        row.read_at = utcnow()
        session.add(row)
        session.flush()
    return row


def mark_all_read(session: Session, *, user_id: str) -> int:
    """Mark every unread message of `user_id` read; returns how many were unread."""
    result = session.execute(
        update(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
