"""accounts: user names unique without regard to case; accounts can be disabled; signing out ends sessions

A unique index on lower(username) refuses `Alice` beside `alice` in the database itself (race-safe on SQLite
and PostgreSQL). Names that already collide without regard to case are left as they are (renaming an account
would break its owner/name addresses and its sign-in): the index then leaves out each later account of such a
group (a partial index, `WHERE id NOT IN (…)`), so the earliest keeps its name and no new account can take any
spelling of it; the later ones keep working under their exact names.

`disabled` refuses an account's tokens on their next request; `session_generation` is carried in every sign-in
token and raised by signing out or changing the password, which ends every sign-in token issued before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_users_username_lower"
# The later member of each group of names equal without regard to case (the database's own lower()).
LATER_COLLISIONS = """
SELECT u.id FROM users u WHERE EXISTS (
    SELECT 1 FROM users e WHERE lower(e.username) = lower(u.username) AND e.id <> u.id
    AND (e.created_at < u.created_at OR (e.created_at = u.created_at AND e.id < u.id))
)
"""


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    later = [str(row[0]) for row in op.get_bind().execute(sa.text(LATER_COLLISIONS))]
    if not later:
        op.create_index(INDEX, "users", [sa.text("lower(username)")], unique=True)
        return
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in sorted(later))
    where = sa.text(f"id NOT IN ({quoted})")
    op.create_index(
        INDEX, "users", [sa.text("lower(username)")], unique=True, sqlite_where=where, postgresql_where=where
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
        batch.drop_column("disabled")
