"""The COCO document a dataset exchanges: read (bounded, checked) from an import, built for an export.

A dataset here is a classification dataset (photos and one class each; there are no segmentation datasets in
the registry). Its COCO form: `images` (id, file_name under `images/`, width, height), `categories` (the
classes in order, ids from 1) and, for each labelled photo, one annotation covering the whole photo (`bbox`
[0, 0, width, height], the photo's outline as the polygon, `area` width × height, `iscrowd` 0), so every tool
that reads COCO sees the label and `COCO.annToMask` decodes it to the photo's full extent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from commons.errors import InvalidInput, TooLarge
from commons.strict_json import JsonRefused, loads
from registry.dataset_schemas import check_class_name
from registry.models import Dataset, DatasetItem

ANNOTATIONS_FILE: Final = "annotations.json"
IMAGES_FOLDER: Final = "images"
MAX_DOCUMENT_BYTES: Final = 32 * 1024 * 1024  # annotations.json of an import
MAX_IMAGES: Final = 100_000  # listed in one document (the zip's own entry limit bounds those imported)
MAX_CATEGORIES: Final = 1000  # as `DatasetCreate.classes`
MAX_ANNOTATIONS: Final = 500_000
CocoId = int


class CocoImage(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: CocoId
    file_name: str = Field(min_length=1, max_length=1024)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)


class CocoCategory(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: CocoId
    name: str = Field(min_length=1, max_length=128)


class CocoAnnotation(BaseModel):
    """Only what labels a photo is read; a segmentation, box or keypoints are accepted and not kept."""

    model_config = ConfigDict(extra="allow")
    image_id: CocoId
    category_id: CocoId


class CocoDocument(BaseModel):
    model_config = ConfigDict(extra="allow")
    images: list[CocoImage] = Field(max_length=MAX_IMAGES)
    categories: list[CocoCategory] = Field(default_factory=list, max_length=MAX_CATEGORIES)
    annotations: list[CocoAnnotation] = Field(default_factory=list, max_length=MAX_ANNOTATIONS)


def parse_document(data: bytes, *, name: str) -> CocoDocument:
    """The checked document: JSON within limits, the COCO fields typed, ids unique, every annotation naming a
    listed image and category, category names usable as class names. InvalidInput says what and where."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise TooLarge(f"{name} is {len(data)} bytes, more than the limit of {MAX_DOCUMENT_BYTES}; split the dataset")
    try:
        raw = loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, JsonRefused) as error:
        raise InvalidInput(
            f"{name} is not acceptable JSON ({error}); send a COCO annotation file", field="file"
        ) from error
    try:
        document = CocoDocument.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            f"{name} is not a COCO document: {where or 'the document'}: {first['msg']} "
            f"({error.error_count()} problem(s) in all); it needs images [{{id, file_name}}], categories "
            "[{id, name}] and annotations [{image_id, category_id}]",
            field="file",
        ) from error
    _check_references(document, name=name)
    return document


def _check_references(document: CocoDocument, *, name: str) -> None:
    _unique([image.id for image in document.images], what="image id", name=name)
    _unique([category.id for category in document.categories], what="category id", name=name)
    _unique([category.name for category in document.categories], what="category name", name=name)
    for category in document.categories:
        try:
            check_class_name(category.name)
        except ValueError as error:
            raise InvalidInput(
                f"{name}: category {category.id} is named {category.name!r}, which cannot be a class: {error}",
                field="file",
            ) from error
    images = {image.id for image in document.images}
    categories = {category.id for category in document.categories}
    for index, annotation in enumerate(document.annotations):
        if annotation.image_id not in images:
            raise InvalidInput(
                f"{name}: annotations[{index}] names image {annotation.image_id}, not listed in images", field="file"
            )
        if annotation.category_id not in categories:
            raise InvalidInput(
                f"{name}: annotations[{index}] names category {annotation.category_id}, not listed in categories",
                field="file",
            )


def _unique(values: Sequence[object], *, what: str, name: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise InvalidInput(f"{name}: {what} {value!r} appears twice; each must be unique", field="file")
        seen.add(value)


def image_labels(document: CocoDocument) -> tuple[dict[CocoId, str | None], int]:
    """Image id → its class (the one category its annotations name; None for none or several) and how many
    images had annotations of several categories (imported unlabelled: a photo has one class here)."""
    names = {category.id: category.name for category in document.categories}
    named: dict[CocoId, set[CocoId]] = {}
    for annotation in document.annotations:
        named.setdefault(annotation.image_id, set()).add(annotation.category_id)
    labels: dict[CocoId, str | None] = {}
    mixed = 0
    for image in document.images:
        found = named.get(image.id, set())
        mixed += len(found) > 1
        labels[image.id] = names[next(iter(found))] if len(found) == 1 else None
    return labels, mixed


def export_document(
    dataset: Dataset, *, digest: str, classes: Mapping[str, str], files: Sequence[tuple[str, DatasetItem]]
) -> dict[str, Any]:
    """The COCO document of `dataset`: `classes` (class id → name, in order), `files` (file name, item) in order."""
    category_ids = {class_id: index for index, class_id in enumerate(classes, start=1)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, (file_name, item) in enumerate(files, start=1):
        images.append(
            {"id": image_id, "file_name": file_name, "width": item.width, "height": item.height, "sha256": item.sha256}
        )
        if item.class_id is not None:
            width, height = item.width, item.height
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[item.class_id],
                    "bbox": [0, 0, width, height],
                    "area": width * height,
                    "segmentation": [[0, 0, width, 0, width, height, 0, height]],
                    "iscrowd": 0,
                }
            )
    return {
        "info": {
            "description": dataset.name,
            "version": digest,
            "date_created": dataset.updated_at.isoformat(),
            "contributor": "Model Commons",
        },
        "licenses": [],
        "images": images,
        "categories": [
            {"id": category_ids[class_id], "name": name, "supercategory": ""} for class_id, name in classes.items()
        ],
        "annotations": annotations,
    }
