"""warm-lane task runs: a task on the warm lane runs as one Prefect task run (no flow run); the row keeps its
id for the run's claim, its logs and its state

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("task_run_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("task_run_id")
