"""A COCO zip imported as a new dataset: `annotations.json` (or the zip's one JSON file) and the photos it lists.

The guards of the folder import (`registry.dataset_zip`) apply: entry names, count, declared and counted sizes,
compression ratios, and a budget of pixels and seconds for decoding. Everything is checked before anything is
stored; then the photos' bytes go to the store, and only then are the dataset, its classes (the categories, in
id order) and its items written, so a refused import leaves nothing behind.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass, field
from typing import IO

from sqlmodel import Session, select

from commons.errors import Conflict, InvalidInput
from commons.hashing import sha256_bytes
from commons.image_io import header_pixels, image_info
from commons.store import ObjectStore
from registry.dataset_classes import create_class
from registry.dataset_schemas import DatasetCreate
from registry.dataset_zip import (
    ImportBudget,
    ZipImage,
    ZipLimits,
    check_entry_name,
    check_headers,
    open_archive,
    read_entry,
    store_images,
)
from registry.datasets import add_item, place_dataset
from registry.datasets.coco.document import ANNOTATIONS_FILE, IMAGES_FOLDER, CocoDocument, image_labels, parse_document
from registry.models import Dataset, User


@dataclass
class CocoPlan:
    document: CocoDocument
    images: list[ZipImage] = field(default_factory=list)  # distinct photos, in the document's order
    mixed: int = 0  # listed images whose annotations name several categories: imported unlabelled
    duplicates: int = 0  # listed images whose bytes another listed image already has
    unlisted: int = 0  # photos in the zip that the document does not list: not imported


@dataclass(frozen=True)
class CocoOutcome:
    dataset: Dataset
    plan: CocoPlan


def _files(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Path → entry for every file of the zip, each path checked; macOS and hidden files left out."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        parts = check_entry_name(info.filename)
        if info.is_dir() or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            continue
        found[info.filename] = info
    return found


def _document_entry(files: dict[str, zipfile.ZipInfo]) -> zipfile.ZipInfo:
    if ANNOTATIONS_FILE in files:
        return files[ANNOTATIONS_FILE]
    candidates = [info for name, info in files.items() if name.lower().endswith(".json")]
    if len(candidates) != 1:
        found = ", ".join(sorted(info.filename for info in candidates)[:5]) or "none"
        raise InvalidInput(
            f"a COCO zip holds {ANNOTATIONS_FILE} at its top, or exactly one .json file (found: {found}); "
            f"put the annotations there and the photos under {IMAGES_FOLDER}/",
            field="file",
        )
    return candidates[0]


def _locate(file_name: str, files: dict[str, zipfile.ZipInfo], by_base: dict[str, list[str]]) -> zipfile.ZipInfo:
    """The entry of an image's `file_name`: itself, under images/, or the one entry of that base name."""
    name = file_name.replace("\\", "/")
    for candidate in (name, f"{IMAGES_FOLDER}/{name}"):
        if candidate in files:
            return files[candidate]
    same = by_base.get(posixpath.basename(name), [])
    if len(same) == 1:
        return files[same[0]]
    why = "no entry has that name" if not same else f"{len(same)} entries share its base name"
    raise InvalidInput(
        f"image {file_name!r} is listed in the annotations but {why}; put it under {IMAGES_FOLDER}/{file_name}",
        field="file",
    )


def plan_coco(archive: zipfile.ZipFile, *, limits: ZipLimits, max_pixels: int) -> CocoPlan:
    """Check the whole zip and read its document, without storing anything."""
    entries = archive.infolist()
    check_headers(entries, limits=limits)
    files = _files(archive)
    document_entry = _document_entry(files)
    document = parse_document(read_entry(archive, document_entry, limits=limits), name=document_entry.filename)
    labels, mixed = image_labels(document)
    by_base: dict[str, list[str]] = {}
    for name in files:
        by_base.setdefault(posixpath.basename(name), []).append(name)
    plan = CocoPlan(document=document, mixed=mixed)
    seen: dict[str, ZipImage] = {}
    used: set[str] = {document_entry.filename}
    budget = ImportBudget(limits=limits, entries=len(document.images))
    for index, listed in enumerate(document.images):
        budget.check_time(index)
        info = _locate(listed.file_name, files, by_base)
        used.add(info.filename)
        data = read_entry(archive, info, limits=limits)
        sha256, label = sha256_bytes(data), labels[listed.id]
        twin = seen.get(sha256)
        if twin is not None:
            if twin.label != label:
                raise InvalidInput(
                    f"images {twin.info.filename!r} and {info.filename!r} are the same photo with different "
                    "categories; keep one",
                    field="file",
                )
            plan.duplicates += 1
            continue
        budget.spend_pixels(index, header_pixels(data, name=info.filename, max_pixels=max_pixels))
        image = image_info(data, name=info.filename, max_pixels=max_pixels)
        _check_size(listed.width, listed.height, image.width, image.height, name=info.filename)
        seen[sha256] = ZipImage(info=info, label=label, sha256=sha256, image=image)
        plan.images.append(seen[sha256])
    plan.unlisted = len(set(files) - used)
    return plan


def _check_size(width: int | None, height: int | None, actual_w: int, actual_h: int, *, name: str) -> None:
    if (width is not None and width != actual_w) or (height is not None and height != actual_h):
        raise InvalidInput(
            f"image {name!r} is {actual_w}x{actual_h} pixels but the annotations say {width}x{height}; "
            "fix the annotations (or leave width and height out)",
            field="file",
        )


def import_coco(
    session: Session,
    *,
    store: ObjectStore,
    owner: User,
    spec: DatasetCreate,
    source: IO[bytes],
    limits: ZipLimits,
    max_pixels: int,
) -> CocoOutcome:
    """A new dataset of `owner`, made as `spec` says (its classes: the categories) from the COCO zip `source`."""
    if spec.slug is not None and _slug_taken(session, owner=owner, slug=spec.slug):
        raise Conflict(f"you already have a dataset at {spec.slug!r}; choose another slug, or leave it out")
    dataset = Dataset(
        owner_id=owner.id, name=spec.name, slug="", description=spec.description, visibility=spec.visibility
    )
    with open_archive(source) as archive:
        plan = plan_coco(archive, limits=limits, max_pixels=max_pixels)
        stored = store_images(session, store=store, dataset=dataset, archive=archive, images=plan.images, limits=limits)
    place_dataset(session, dataset, slug=spec.slug)
    categories = sorted(plan.document.categories, key=lambda category: category.id)
    classes = {category.name: create_class(session, dataset=dataset, name=category.name) for category in categories}
    for image, label in stored:
        add_item(session, store=store, dataset=dataset, image=image, label=classes[label] if label else None)
    return CocoOutcome(dataset=dataset, plan=plan)


def _slug_taken(session: Session, *, owner: User, slug: str) -> bool:
    found = session.exec(select(Dataset.id).where(Dataset.owner_id == owner.id, Dataset.slug == slug)).first()
    return found is not None
