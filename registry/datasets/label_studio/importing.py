"""A Label Studio JSON export imported as a new dataset: the export alone (its photos as data URLs), or a zip of
`export.json` (or the zip's one JSON file) and the photos, each named by the base name of its task's `data.image`.

Bounded as the COCO import is (`registry.datasets.coco.importing`, whose guards it reuses): entry names, count,
declared and counted sizes, compression ratios, each photo's bytes, and a budget of pixels and seconds for
decoding. Everything is checked before anything is stored; then the photos' bytes go to the store, and only then
are the dataset, its classes (the choices, in first-seen order) and its items written, so a refused import leaves
nothing behind. A task whose annotations choose several classes is imported unlabelled and counted (`mixed`).
"""

from __future__ import annotations

import base64
import binascii
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from sqlmodel import Session

from commons.errors import Conflict, InvalidInput, TooLarge
from commons.hashing import sha256_bytes
from commons.image_io import ImageInfo, header_pixels, image_info
from commons.store import ObjectStore
from registry.dataset_classes import create_class
from registry.dataset_schemas import DatasetCreate
from registry.dataset_zip import ImportBudget, ZipLimits, check_headers, open_archive, read_entry
from registry.datasets import ItemImage, add_item, place_dataset, put_item_object
from registry.datasets.coco.importing import _files, _slug_taken
from registry.datasets.label_studio.document import (
    EXPORT_FILE,
    MAX_DOCUMENT_BYTES,
    MAX_JSON_BYTES,
    ExportTask,
    parse_export,
)
from registry.models import Dataset, User

ZIP_MAGIC = b"PK\x03\x04"
_DATA_URL = re.compile(r"data:(?:image/([a-z0-9.+-]+))?(?:;[a-z0-9=.-]+)*;base64,", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class TaskImage:
    task: ExportTask
    name: str
    label: str | None
    sha256: str
    image: ImageInfo
    entry: zipfile.ZipInfo | None  # None: the photo is the task's data URL


@dataclass
class LabelStudioPlan:
    classes: list[str] = field(default_factory=list)  # the choices, in first-seen order
    images: list[TaskImage] = field(default_factory=list)  # distinct photos, in the export's order
    unlabelled: int = 0
    mixed: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class LabelStudioOutcome:
    dataset: Dataset
    plan: LabelStudioPlan


class _Photos:
    """Where the tasks' photos are: data URLs in the export, or entries of the zip (by base name)."""

    def __init__(self, archive: zipfile.ZipFile | None, *, limits: ZipLimits) -> None:
        self.archive = archive
        self.limits = limits
        self.by_base: dict[str, list[zipfile.ZipInfo]] = {}
        if archive is not None:
            for name, info in _files(archive).items():
                self.by_base.setdefault(name.rsplit("/", 1)[-1], []).append(info)

    def locate(self, task: ExportTask) -> tuple[str, zipfile.ZipInfo | None]:
        """The photo's name, and its zip entry (None for a data URL)."""
        if task.data_url:
            match = _DATA_URL.match(task.image)
            if match is None:
                raise InvalidInput(f"task {task.id}: data.image is a data URL but not a base64 image", field="file")
            suffix = f".{match.group(1).lower()}" if match.group(1) else ""
            return _UNSAFE.sub("_", f"task-{task.id}")[:100] + suffix, None
        if self.archive is None:
            raise InvalidInput(
                f"task {task.id}: data.image is {task.image[:200]!r}, not a data URL; send a zip of {EXPORT_FILE} "
                "and the photos (named by the base name of each data.image)",
                field="file",
            )
        same = self.by_base.get(task.base_name, [])
        if len(same) != 1:
            why = "no file of the zip has that name" if not same else f"{len(same)} files of the zip have that name"
            raise InvalidInput(
                f"task {task.id}: photo {task.base_name!r} (from data.image {task.image[:200]!r}) is missing: {why}",
                field="file",
            )
        return same[0].filename, same[0]

    def read(self, task: ExportTask, entry: zipfile.ZipInfo | None) -> bytes:
        if entry is not None and self.archive is not None:
            return read_entry(self.archive, entry, limits=self.limits)
        encoded = task.image[task.image.index(",") + 1 :]
        if len(encoded) > self.limits.max_entry_bytes * 4 // 3 + 4:
            raise TooLarge(f"task {task.id}: its photo is larger than the limit of {self.limits.max_entry_bytes} bytes")
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidInput(
                f"task {task.id}: the data URL's base64 cannot be read ({error})", field="file"
            ) from None


def _export_entry(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    files = _files(archive)
    if EXPORT_FILE in files:
        return files[EXPORT_FILE]
    candidates = [info for name, info in files.items() if name.lower().endswith(".json")]
    if len(candidates) != 1:
        found = ", ".join(sorted(info.filename for info in candidates)[:5]) or "none"
        raise InvalidInput(
            f"a Label Studio zip holds {EXPORT_FILE} (Label Studio's JSON export) at its top, or exactly one .json "
            f"file (found: {found}), and the photos",
            field="file",
        )
    return candidates[0]


@contextmanager
def _opened(source: IO[bytes], *, limits: ZipLimits) -> Iterator[tuple[list[ExportTask], _Photos]]:
    """The export's tasks and where their photos are, from a zip or from the JSON export alone."""
    head = source.read(len(ZIP_MAGIC))
    source.seek(0)
    if head != ZIP_MAGIC:
        data = source.read(MAX_JSON_BYTES + 1)
        yield parse_export(data, name="the export", limit=MAX_JSON_BYTES), _Photos(None, limits=limits)
        return
    with open_archive(source) as archive:
        check_headers(archive.infolist(), limits=limits)
        entry = _export_entry(archive)
        document = read_entry(archive, entry, limits=limits)
        yield parse_export(document, name=entry.filename, limit=MAX_DOCUMENT_BYTES), _Photos(archive, limits=limits)


def plan_label_studio(tasks: list[ExportTask], photos: _Photos, *, max_pixels: int) -> LabelStudioPlan:
    """Check every task's photo (found, within limits, an image), without storing anything."""
    plan = LabelStudioPlan()
    seen: dict[str, TaskImage] = {}
    budget = ImportBudget(limits=photos.limits, entries=len(tasks))
    for index, task in enumerate(tasks):
        budget.check_time(index)
        name, entry = photos.locate(task)
        data = photos.read(task, entry)
        label = task.choices[0] if len(task.choices) == 1 else None
        plan.mixed += len(task.choices) > 1
        plan.unlabelled += not task.choices
        for choice in task.choices:
            if choice not in plan.classes:
                plan.classes.append(choice)
        sha256 = sha256_bytes(data)
        twin = seen.get(sha256)
        if twin is not None:
            if twin.label != label:
                raise InvalidInput(
                    f"tasks {twin.task.id} and {task.id} have the same photo with different choices; keep one",
                    field="file",
                )
            plan.duplicates += 1
            continue
        budget.spend_pixels(index, header_pixels(data, name=name, max_pixels=max_pixels))
        info = image_info(data, name=name, max_pixels=max_pixels)
        seen[sha256] = TaskImage(task=task, name=name, label=label, sha256=sha256, image=info, entry=entry)
        plan.images.append(seen[sha256])
    return plan


def import_label_studio(
    session: Session,
    *,
    store: ObjectStore,
    owner: User,
    spec: DatasetCreate,
    source: IO[bytes],
    limits: ZipLimits,
    max_pixels: int,
) -> LabelStudioOutcome:
    """A new dataset of `owner`, made as `spec` says (its classes: the choices) from a Label Studio export."""
    if spec.slug is not None and _slug_taken(session, owner=owner, slug=spec.slug):
        raise Conflict(f"you already have a dataset at {spec.slug!r}; choose another slug, or leave it out")
    dataset = Dataset(
        owner_id=owner.id, name=spec.name, slug="", description=spec.description, visibility=spec.visibility
    )
    with _opened(source, limits=limits) as (tasks, photos):
        plan = plan_label_studio(tasks, photos, max_pixels=max_pixels)
        stored: list[tuple[ItemImage, str | None]] = []
        for entry in plan.images:  # bytes first, rows after (see registry.datasets.add_items)
            data = photos.read(entry.task, entry.entry)
            if sha256_bytes(data) != entry.sha256:
                raise InvalidInput(f"the photo of task {entry.task.id} changed while importing; send it again")
            image = ItemImage(name=entry.name, data=data, sha256=entry.sha256, info=entry.image)
            put_item_object(session, store=store, dataset=dataset, image=image)
            stored.append((image.stored(), entry.label))
            del data, image
    place_dataset(session, dataset, slug=spec.slug)
    classes = {name: create_class(session, dataset=dataset, name=name) for name in plan.classes}
    for image, label in stored:
        add_item(session, store=store, dataset=dataset, image=image, label=classes[label] if label else None)
    return LabelStudioOutcome(dataset=dataset, plan=plan)
