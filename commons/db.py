"""Database engine and sessions (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, create_engine


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per URL; SQLite gets WAL and a busy timeout so API and workers can share it."""
    if url.startswith("sqlite"):
        # Connections to a local file are cheap: enough for the API's threads and its background work.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=40
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # 40 connections at most per process: the API's admitted requests (api_max_in_flight, 24), its dispatcher
    # (4 threads) and reaper, and the event streams' short reads.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_unless_taken(session: Session, row: SQLModel) -> bool:
    """Insert `row` in a savepoint: True, or False when a constraint (a unique one, say: another writer took
    the number or the key first) refuses it; then only the savepoint is rolled back, the session goes on."""
    savepoint = session.begin_nested()
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True
