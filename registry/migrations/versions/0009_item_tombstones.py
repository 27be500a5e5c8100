"""item tombstones: a photo deleted while a task may have frozen it in its dataset snapshot keeps its row
(hidden from the dataset, `deleted_at` set) and its object, until no task refers to it any more

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_items") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_items") as batch:
        batch.drop_column("deleted_at")
