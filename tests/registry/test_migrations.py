"""The Alembic migrations build exactly the tables the models describe, and undo cleanly, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, create_engine

import registry.models  # noqa: F401 - registers the tables
from registry.migrate import downgrade_to_base, upgrade


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        assert differences == [], f"models and migrations disagree; add a migration: {differences}"
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    downgrade_to_base(database_url)
    engine = create_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        assert {"tasks", "datasets", "resource_versions"} <= set(inspect(engine).get_table_names())
        columns = {column["name"] for column in inspect(engine).get_columns("tasks")}
        assert {"dataset_id", "dataset_digest", "reproduces_id", "metrics", "result"} <= columns
    finally:
        engine.dispose()
