"""dataset tasks and derived datasets: a task may work on a dataset alone (augment), and a dataset may be
derived from another (its source and how it was made)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("resource_id", existing_type=sa.String(length=32), nullable=True)
        batch.alter_column("version_id", existing_type=sa.String(length=32), nullable=True)
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("source_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("derivation", sa.JSON(), nullable=True))
        batch.create_index("ix_datasets_source_id", ["source_id"])


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_index("ix_datasets_source_id")
        batch.drop_column("derivation")
        batch.drop_column("source_id")
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("version_id", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("resource_id", existing_type=sa.String(length=32), nullable=False)
