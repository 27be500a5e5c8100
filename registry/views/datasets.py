"""Datasets, their classes and their items as the API shows them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from commons.store import ObjectStore
from registry.dataset_classes import class_names
from registry.dataset_schemas import ClassPublic, DatasetPublic, ItemPublic
from registry.datasets import count_by_class, count_items, dataset_digest, item_key, retained
from registry.models import Dataset, DatasetClass, DatasetItem, User
from registry.rights import rights, sources_public
from registry.views.base import view


def dataset_view(session: Session, dataset: Dataset, user: User | None) -> DatasetPublic:
    owner = session.get(User, dataset.owner_id)
    kept_items, kept_bytes = retained(session, dataset)  # deleted photos kept for tasks (see delete_item)
    return view(
        DatasetPublic,
        dataset,
        ref=f"{owner.username if owner else ''}/{dataset.slug}",
        owner=owner.username if owner else "",
        classes=list(class_names(session, dataset).values()),
        item_count=count_items(session, dataset),
        labelled_count=count_items(session, dataset, labelled=True),
        retained_items=kept_items,
        retained_bytes=kept_bytes,
        digest=dataset_digest(session, dataset),
        permissions=sorted(rights(session, dataset, user)),
        sources=sources_public(session, [dataset], user)[dataset.id],
        source=dataset.source_id,
    )


def class_view(session: Session, dataset: Dataset, found: DatasetClass) -> ClassPublic:
    return view(ClassPublic, found, item_count=count_items(session, dataset, class_id=found.id))


def class_views(session: Session, dataset: Dataset, found: Sequence[DatasetClass]) -> list[ClassPublic]:
    """Each class with its item count, counted in one query for them all."""
    counts = count_by_class(session, dataset)
    return [view(ClassPublic, row, item_count=counts.get(row.id, 0)) for row in found]


def item_view(item: DatasetItem, names: dict[str, str], *, store: ObjectStore, expires_seconds: int) -> ItemPublic:
    """An item with its class by name (`names`: class id → name) and a presigned URL of its photo."""
    return view(
        ItemPublic,
        item,
        label=names[item.class_id] if item.class_id else None,
        url=store.presigned_url(item_key(item), expires_seconds=expires_seconds),
    )
