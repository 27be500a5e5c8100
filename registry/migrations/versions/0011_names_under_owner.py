"""names under their owner: a resource name is unique per owner (addressed as owner/name), no longer across
the commons

Existing names keep their value: they were unique across the commons, so every old `/resources/{name}` link
still resolves (a bare name resolves to the caller's own resource, else to the one visible resource of that
name; see registry.permissions.find_resource), and each is now also `owner/name`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.drop_index("ix_resources_name")
        batch.create_index("ix_resources_name", ["name"], unique=False)
        batch.create_unique_constraint("uq_resource_owner_name", ["owner_id", "name"])


def downgrade() -> None:
    """Refused if two owners now use one name (the global uniqueness cannot come back without renaming)."""
    with op.batch_alter_table("resources") as batch:
        batch.drop_constraint("uq_resource_owner_name", type_="unique")
        batch.drop_index("ix_resources_name")
        batch.create_index("ix_resources_name", ["name"], unique=True)
