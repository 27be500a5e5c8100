"""Datasets live at owner/slug: the migration gives existing datasets readable slugs, one owner's duplicates
get '-2', '-3', …, and other owners' datasets never collide with one's own (both backends)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from registry.migrate import alembic_config


def test_the_migration_gives_every_dataset_a_slug_unique_per_owner(postgres_database: str, tmp_path: Path) -> None:
    for url in (postgres_database, f"sqlite:///{tmp_path}/slugs.db"):
        config = alembic_config(url)
        command.upgrade(config, "0011")
        engine = create_engine(url)
        rows = [
            ("d1", "u1", "Handwritten digits", "2026-01-01"),
            ("d2", "u1", "Handwritten digits", "2026-01-02"),
            ("d3", "u1", "handwritten  DIGITS!", "2026-01-03"),
            ("d4", "u2", "Handwritten digits", "2026-01-04"),
            ("d5", "u2", "Items", "2026-01-05"),
            ("d6", "u2", "数字", "2026-01-06"),
        ]
        with engine.begin() as connection:
            for user in ("u1", "u2"):
                connection.execute(
                    text(
                        "INSERT INTO users (id, username, password_hash, is_admin, created_at) "
                        "VALUES (:i, :i, 'x', false, '2026-01-01')"
                    ),
                    {"i": user},
                )
            for dataset_id, owner, name, created in rows:
                connection.execute(
                    text(
                        "INSERT INTO datasets (id, owner_id, name, description, visibility, derivatives, created_at, "
                        "updated_at) VALUES (:id, :owner, :name, '', 'private', 'private', :at, :at)"
                    ),
                    {"id": dataset_id, "owner": owner, "name": name, "at": created},
                )
        command.upgrade(config, "0012")
        with engine.connect() as connection:
            slugs: dict[str, str] = {
                row[0]: row[1] for row in connection.execute(text("SELECT id, slug FROM datasets"))
            }
        engine.dispose()
        assert slugs == {
            "d1": "handwritten-digits",
            "d2": "handwritten-digits-2",
            "d3": "handwritten-digits-3",
            "d4": "handwritten-digits",
            "d5": "items-2",  # 'items' is a word of the API's paths
            "d6": "dataset",
        }, url
