"""webhooks: signed deliveries of what happens to a user's items and tasks

`webhooks` holds the URLs users registered for events on their items (a new version, an access request, a task
on their resource or dataset), each with its own signing secret. `webhook_secrets` holds each user's secret for
the `webhook` their tasks name. `task_webhooks` holds a task's `webhook` and the events it wants.
`webhook_deliveries` is the outbox the delivery worker sends from and the log the owner reads.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("owner_id", sa.String(length=32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("resource_id", sa.String(length=32), sa.ForeignKey("resources.id"), nullable=True),
        sa.Column("dataset_id", sa.String(length=32), sa.ForeignKey("datasets.id"), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhooks_owner_id", "webhooks", ["owner_id"])
    op.create_index("ix_webhooks_resource_id", "webhooks", ["resource_id"])
    op.create_index("ix_webhooks_dataset_id", "webhooks", ["dataset_id"])
    op.create_table(
        "webhook_secrets",
        sa.Column("user_id", sa.String(length=32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "task_webhooks",
        sa.Column("task_id", sa.String(length=32), sa.ForeignKey("tasks.id"), primary_key=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("owner_id", sa.String(length=32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("webhook_id", sa.String(length=32), nullable=True),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in ("owner_id", "webhook_id", "task_id", "status", "next_attempt_at", "created_at"):
        op.create_index(f"ix_webhook_deliveries_{column}", "webhook_deliveries", [column])


def downgrade() -> None:
    for column in ("owner_id", "webhook_id", "task_id", "status", "next_attempt_at", "created_at"):
        op.drop_index(f"ix_webhook_deliveries_{column}", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("task_webhooks")
    op.drop_table("webhook_secrets")
    op.drop_index("ix_webhooks_dataset_id", table_name="webhooks")
    op.drop_index("ix_webhooks_resource_id", table_name="webhooks")
    op.drop_index("ix_webhooks_owner_id", table_name="webhooks")
    op.drop_table("webhooks")
