"""cards and inbox: a model card per version, and an in-app inbox of notifications per user

`resource_versions.card` holds the card's Markdown source (rendered and sanitised when read), with who last
wrote it and when. `notifications` holds each user's messages (access approved or denied, a task finished,
someone asking for access), read or not. `dataset_access_requests` lets a user ask a dataset's owner for access,
as `access_requests` does for resources.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resource_versions") as batch:
        batch.add_column(sa.Column("card", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("card_updated_by", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("card_updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_resource_versions_card_updated_by", "users", ["card_updated_by"], ["id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("user_id", sa.String(length=32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_notifications_user_id", "notifications", ["user_id"])
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])
    op.create_table(
        "dataset_access_requests",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("dataset_id", sa.String(length=32), sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("requester_id", sa.String(length=32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("group_id", sa.String(length=32), sa.ForeignKey("groups.id"), nullable=True),
        sa.Column("permission", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_dataset_access_requests_dataset_id", "dataset_access_requests", ["dataset_id"])
    op.create_index("ix_dataset_access_requests_group_id", "dataset_access_requests", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_access_requests_group_id", table_name="dataset_access_requests")
    op.drop_index("ix_dataset_access_requests_dataset_id", table_name="dataset_access_requests")
    op.drop_table("dataset_access_requests")
    op.drop_index("ix_notifications_created_at", table_name="notifications")
    op.drop_index("ix_notifications_user_id", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("resource_versions") as batch:
        batch.drop_constraint("fk_resource_versions_card_updated_by", type_="foreignkey")
        batch.drop_column("card_updated_at")
        batch.drop_column("card_updated_by")
        batch.drop_column("card")
