"""training: task datasets, per-epoch metrics, results, reproductions; version provenance

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dataset_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("dataset_digest", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column("reproduces_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("metrics", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("result", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tasks_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_foreign_key("fk_tasks_reproduces_id", "tasks", ["reproduces_id"], ["id"])
    with op.batch_alter_table("resource_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provenance", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resource_versions", schema=None) as batch_op:
        batch_op.drop_column("provenance")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tasks_reproduces_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tasks_dataset_id"))
        batch_op.drop_column("result")
        batch_op.drop_column("metrics")
        batch_op.drop_column("reproduces_id")
        batch_op.drop_column("dataset_digest")
        batch_op.drop_column("dataset_id")
