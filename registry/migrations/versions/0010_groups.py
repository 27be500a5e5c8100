"""groups: a user creates a group (a lab, a class) with members (member, maintainer); grants and access
requests may name a group instead of a user

A grant to everyone keeps both grantee_id and group_id null.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False, unique=True, index=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=32), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("group_id", sa.String(length=32), sa.ForeignKey("groups.id"), nullable=False, index=True),
        sa.Column("user_id", sa.String(length=32), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.String(length=32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("group_id", "user_id", name="uq_group_member"),
    )
    for table in ("grants", "dataset_grants", "access_requests"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("group_id", sa.String(length=32), nullable=True))
            batch.create_foreign_key(f"fk_{table}_group_id", "groups", ["group_id"], ["id"])
            batch.create_index(f"ix_{table}_group_id", ["group_id"])


def downgrade() -> None:
    for table in ("access_requests", "dataset_grants", "grants"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_group_id")
            batch.drop_constraint(f"fk_{table}_group_id", type_="foreignkey")
            batch.drop_column("group_id")
    op.drop_table("group_members")
    op.drop_table("groups")
