"""Labelled image datasets: the datasets and their content-addressed items (their classes: `dataset_classes`).

One package, imported as `registry.datasets`; its modules by concern:

- `records`: create a dataset, place it at owner/slug, update it, list what a caller may see;
- `items`: photos validated, stored once by content, listed, counted and labelled; the dataset's digest;
- `removal`: deleting photos (tombstones kept for the tasks that froze them) and datasets, reclaiming bytes;
- `derived`: datasets a task makes (augmented copies), with their lineage.

Public views of datasets and items are built in `registry.views.datasets`.
"""

from __future__ import annotations

from registry.datasets.derived import create_derived_dataset, derived_dataset_id
from registry.datasets.items import (
    EXTENSIONS,
    ItemImage,
    add_item,
    add_items,
    count_by_class,
    count_items,
    dataset_digest,
    get_item,
    item_key,
    list_items,
    live_item,
    put_item_object,
    set_label,
    validate_image,
)
from registry.datasets.records import create_dataset, list_visible_datasets, place_dataset, update_dataset
from registry.datasets.removal import (
    check_no_derivatives,
    delete_dataset,
    delete_item,
    lock_dataset,
    reclaim_deleted_dataset,
    reclaim_unreferenced,
    referenced_item,
    retained,
)

__all__ = [
    "EXTENSIONS",
    "ItemImage",
    "add_item",
    "add_items",
    "check_no_derivatives",
    "count_by_class",
    "count_items",
    "create_dataset",
    "create_derived_dataset",
    "dataset_digest",
    "delete_dataset",
    "delete_item",
    "derived_dataset_id",
    "get_item",
    "item_key",
    "list_items",
    "list_visible_datasets",
    "live_item",
    "lock_dataset",
    "place_dataset",
    "put_item_object",
    "reclaim_deleted_dataset",
    "reclaim_unreferenced",
    "referenced_item",
    "retained",
    "set_label",
    "update_dataset",
    "validate_image",
]
