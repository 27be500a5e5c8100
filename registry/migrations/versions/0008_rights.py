"""rights a provider can trust: per-item policies (derivatives private/open, download), lineage edges that
bind a derivative to its sources, and the append-only audit trail

Existing lineage is carried over: a version published by a task from another resource's version binds its
resource to that resource and to the dataset it was trained on; an augmented dataset binds to its source.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("derivatives", sa.String(length=16), nullable=False, server_default="private"))
        batch.add_column(sa.Column("download", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("derivatives", sa.String(length=16), nullable=False, server_default="private"))
    op.create_table(
        "lineage",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False, index=True),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False, index=True),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_type", "item_id", "source_type", "source_id", name="uq_lineage_edge"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor_id", sa.String(length=32), nullable=True, index=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False, index=True),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False, index=True),
        sa.Column("target_name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=True, index=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
    )
    _carry_lineage_over()


def _carry_lineage_over() -> None:
    """Edges for what was derived before this revision (read from versions' provenance and datasets)."""
    bind = op.get_bind()
    now = sa.func.now() if bind.dialect.name == "postgresql" else sa.text("CURRENT_TIMESTAMP")
    lineage = sa.table(
        "lineage",
        sa.column("id", sa.String),
        sa.column("item_type", sa.String),
        sa.column("item_id", sa.String),
        sa.column("source_type", sa.String),
        sa.column("source_id", sa.String),
        sa.column("task_id", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    edges: dict[tuple[str, str, str, str], str | None] = {}
    versions = bind.execute(
        sa.text(
            "SELECT v.resource_id, p.resource_id, v.provenance FROM resource_versions v "
            "JOIN resource_versions p ON p.id = v.parent_id WHERE v.provenance IS NOT NULL"
        )
    ).all()
    import json

    for resource_id, parent_resource_id, provenance in versions:
        record = json.loads(provenance) if isinstance(provenance, str) else (provenance or {})
        task_id = record.get("task")
        if parent_resource_id != resource_id:
            edges[("resource", resource_id, "resource", parent_resource_id)] = task_id
        dataset_id = (record.get("dataset") or {}).get("id")
        if dataset_id:
            edges[("resource", resource_id, "dataset", dataset_id)] = task_id
    for dataset_id, source_id in bind.execute(
        sa.text("SELECT id, source_id FROM datasets WHERE source_id IS NOT NULL")
    ).all():
        edges[("dataset", dataset_id, "dataset", source_id)] = None
    import uuid

    for (item_type, item_id, source_type, source_id), task_id in edges.items():
        bind.execute(
            lineage.insert().values(
                id=uuid.uuid4().hex,
                item_type=item_type,
                item_id=item_id,
                source_type=source_type,
                source_id=source_id,
                task_id=task_id,
                created_at=now,
            )
        )


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("lineage")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("derivatives")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("download")
        batch.drop_column("derivatives")
