"""The caller's in-app inbox: messages about requests on their resources, answers to their requests, and their
tasks' endings. Only one's own messages: another's id answers 404."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, SessionDep
from registry import notifications
from registry.clock import as_utc

router = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str = Field(description="access_requested, access_approved, access_denied or task_finished.")
    text: str = Field(description="What happened, in a sentence.")
    link: str = Field(description="The page of the commons to go on to (a path), or empty.")
    created_at: datetime
    read_at: datetime | None = Field(description="When it was first read; null while unread.")


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int = Field(description="How many unread messages were marked read.")


def _public(row: object) -> NotificationPublic:
    shown = NotificationPublic.model_validate(row)
    shown.created_at = as_utc(shown.created_at) or shown.created_at
    shown.read_at = as_utc(shown.read_at)
    return shown


@router.get("", response_model=list[NotificationPublic])
def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread: bool = Query(False, description="true: only the messages not yet read."),
    limit: int = Query(50, ge=1, le=notifications.PAGE_LIMIT, description="At most this many, newest first."),
    before: datetime | None = Query(None, description="Only messages older than this (the last one's created_at)."),
) -> list[NotificationPublic]:
    """Your messages, newest first (the newest 500 are kept); page with `before`."""
    rows = notifications.list_for(session, user_id=user.id, unread_only=unread, limit=limit, before=before)
    return [_public(row) for row in rows]


@router.get("/unread-count", response_model=UnreadCount)
def unread_count(user: CurrentUser, session: SessionDep) -> UnreadCount:
    """How many of your messages are unread (the header's badge)."""
    return UnreadCount(unread=notifications.unread_count(session, user_id=user.id))


@router.post("/read-all", response_model=MarkedRead)
def read_all(user: CurrentUser, session: SessionDep) -> MarkedRead:
    """Mark every message read."""
    return MarkedRead(marked=notifications.mark_all_read(session, user_id=user.id))


@router.post("/{notification_id}/read", response_model=NotificationPublic)
def read_one(notification_id: str, user: CurrentUser, session: SessionDep) -> NotificationPublic:
    """Mark one of your messages read (reading it again keeps the first time)."""
    return _public(notifications.mark_read(session, user_id=user.id, notification_id=notification_id))
