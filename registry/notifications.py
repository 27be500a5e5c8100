"""The in-app inbox: messages to a user about what others did for or to them (an access request approved or
denied, a task of theirs finished, someone asking for access to their resource or dataset).

`notify` adds one message in the caller's transaction (the caller commits), so a notification exists exactly
when the change it reports was committed.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session

from registry.models import Notification

TEXT_LIMIT = 500
LINK_LIMIT = 300


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
    return row
