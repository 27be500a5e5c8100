"""dataset slugs: a dataset is addressed as owner/slug, the slug unique per owner

Every existing dataset gets a slug made from its name (lowercase letters, digits and '-'); when one owner has
several datasets of the same name, the second and later (by creation time) get '-2', '-3', … Dataset ids keep
working in every URL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:15:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The words of the dataset API's paths (registry.dataset_schemas.RESERVED_SLUGS at the time of writing).
RESERVED = frozenset({"items", "classes", "import", "export", "grants", "augment", "access-requests", "crate"})


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "dataset"


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("slug", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, owner_id, name FROM datasets ORDER BY created_at, id")).all()
    taken: set[tuple[str, str]] = set()
    for dataset_id, owner_id, name in rows:
        base = _slug(name)
        slug, counter = base, 1
        while slug in RESERVED or (owner_id, slug) in taken:
            counter += 1
            suffix = f"-{counter}"
            slug = base[: 64 - len(suffix)].rstrip("-") + suffix
        taken.add((owner_id, slug))
        connection.execute(sa.text("UPDATE datasets SET slug = :slug WHERE id = :id"), {"slug": slug, "id": dataset_id})
    with op.batch_alter_table("datasets") as batch:
        batch.alter_column("slug", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_dataset_owner_slug", ["owner_id", "slug"])


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_constraint("uq_dataset_owner_slug", type_="unique")
        batch.drop_column("slug")
