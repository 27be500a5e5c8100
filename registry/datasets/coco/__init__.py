"""Datasets in COCO's format: exported (`export`), imported as a new dataset (`importing`).

`document` says what a dataset's COCO form is (a classification dataset: one whole-photo annotation per
labelled photo) and reads an import's annotation file within limits; `schemas` is what an import answers.
"""

from __future__ import annotations

from registry.datasets.coco.document import ANNOTATIONS_FILE, IMAGES_FOLDER, MAX_DOCUMENT_BYTES
from registry.datasets.coco.export import coco_document, write_coco_zip
from registry.datasets.coco.importing import CocoOutcome, CocoPlan, import_coco, plan_coco
from registry.datasets.coco.schemas import CocoImportPublic

__all__ = [
    "ANNOTATIONS_FILE",
    "IMAGES_FOLDER",
    "MAX_DOCUMENT_BYTES",
    "CocoImportPublic",
    "CocoOutcome",
    "CocoPlan",
    "coco_document",
    "import_coco",
    "plan_coco",
    "write_coco_zip",
]
