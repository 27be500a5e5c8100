"""registry.notifications: a task's ending reaches its owner's inbox once; reading; an inbox keeps its newest 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from commons.db import get_engine
from registry import notifications
from registry import tasks as task_rows
from registry.models import Notification, User
from registry.notifications import KEEP_PER_USER, NotificationKind, notify
from registry.users import create_user
from tests.factories import pending_task


def test_a_task_ending_tells_its_owner_once(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        task = pending_task(session, owner_name="owner")
        assert task_rows.finish(session, task=task, status="succeeded")
        assert not task_rows.finish(session, task=task, status="failed")  # a second ending changes nothing
        session.commit()
        rows = session.exec(select(Notification).where(Notification.user_id == task.owner_id)).all()
        assert [(row.kind, row.text, row.link) for row in rows] == [
            ("task_finished", "Your infer of owner/r-owner v1 succeeded", f"/tasks/{task.id}")
        ]


def test_reading_one_and_all(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        alice = create_user(session, username="alice", password="a long password")
        bob = create_user(session, username="bob", password="a long password")
        first = notify(session, user_id=alice.id, kind=NotificationKind.TASK_FINISHED, text="one", link="/tasks/1")
        notify(session, user_id=alice.id, kind=NotificationKind.TASK_FINISHED, text="two")
        notify(session, user_id=bob.id, kind=NotificationKind.TASK_FINISHED, text="bob's")
        session.commit()
        assert notifications.unread_count(session, user_id=alice.id) == 2
        read = notifications.mark_read(session, user_id=alice.id, notification_id=first.id)
        when = read.read_at
        assert when is not None and notifications.unread_count(session, user_id=alice.id) == 1
        again = notifications.mark_read(session, user_id=alice.id, notification_id=first.id)
        assert again.read_at == when  # the first reading's time is kept
        assert [n.text for n in notifications.list_for(session, user_id=alice.id, unread_only=True)] == ["two"]
        assert notifications.mark_all_read(session, user_id=alice.id) == 1
        assert notifications.unread_count(session, user_id=alice.id) == 0
        assert notifications.unread_count(session, user_id=bob.id) == 1  # another's inbox is untouched


def test_an_inbox_keeps_its_newest_messages(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        user = create_user(session, username="busy", password="a long password")
        for number in range(KEEP_PER_USER + 5):
            row = notify(session, user_id=user.id, kind=NotificationKind.TASK_FINISHED, text=f"message {number}")
            row.created_at = row.created_at + timedelta(microseconds=number)  # strictly ordered, even on fast clocks
        session.commit()
        texts = [n.text for n in session.exec(select(Notification).where(Notification.user_id == user.id)).all()]
        assert len(texts) == KEEP_PER_USER
        assert "message 0" not in texts and f"message {KEEP_PER_USER + 4}" in texts
        newest = notifications.list_for(session, user_id=user.id, limit=2)
        assert [n.text for n in newest] == [f"message {KEEP_PER_USER + 4}", f"message {KEEP_PER_USER + 3}"]
        page = notifications.list_for(session, user_id=user.id, limit=1000)
        assert len(page) == notifications.PAGE_LIMIT
        assert session.get(User, user.id) is not None


def test_a_link_must_stay_in_the_commons(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        user = create_user(session, username="linked", password="a long password")
        for outside in ("https://evil.example", "//evil.example/x"):
            with pytest.raises(ValueError, match="page of the commons"):
                notify(session, user_id=user.id, kind=NotificationKind.TASK_FINISHED, text="x", link=outside)
