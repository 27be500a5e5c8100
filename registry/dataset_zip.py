"""Zip import and export in the ImageFolder layout: `<class>/<file>`; top-level files (or `_unlabelled/`) unlabelled.

An import is checked completely before anything is stored: entry names, entry count, declared sizes and
compression ratios from the headers, then every entry is inflated with its bytes counted (headers are not
trusted), hashed, and each distinct content decoded as an image once (twenty copies of one photo cost one
decode), within a budget of pixels decoded and of seconds spent. Only then are classes created and items
stored, so a refused import leaves the dataset as it was.
"""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import dataclass, field
from typing import IO

from sqlmodel import Session, col, select

from commons.errors import InvalidInput, TooLarge
from commons.hashing import sha256_bytes
from commons.image_io import ImageInfo, header_pixels, image_info
from commons.store import ObjectStore
from commons.weights_check import ZIP_READ_ERRORS
from registry.dataset_classes import class_names, ensure_class
from registry.dataset_schemas import UNLABELLED_FOLDER, check_class_name
from registry.datasets import ItemImage, add_item, count_items, item_key, live_item, put_item_object
from registry.models import Dataset, DatasetClass, DatasetItem

CHUNK = 1024 * 1024
RATIO_FLOOR = 1024 * 1024  # entries (and archives) smaller than this inflate to too little to be a bomb
_DRIVE = re.compile(r"^[A-Za-z]:")
_UNSAFE_NAME_CHARS = re.compile(r"[/\\:\x00-\x1f]")


@dataclass(frozen=True)
class ZipLimits:
    max_bytes: int  # uncompressed total
    max_entries: int
    max_ratio: float  # uncompressed / compressed, per entry and overall
    max_entry_bytes: int  # one image
    max_pixels: int = 2_000_000_000  # decoded in all, distinct images only
    max_seconds: float = 120.0  # reading and decoding the entries


@dataclass(frozen=True)
class ZipImage:
    info: zipfile.ZipInfo
    label: str | None
    sha256: str
    image: ImageInfo


@dataclass
class ImportPlan:
    classes: list[str] = field(default_factory=list)
    images: list[ZipImage] = field(default_factory=list)


@dataclass(frozen=True)
class ImportOutcome:
    added: int
    existing: int
    classes_created: list[str]


def open_archive(source: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except ZIP_READ_ERRORS as error:
        raise InvalidInput(
            f"the upload is not a readable zip archive ({error}); send a .zip file", field="file"
        ) from error


def check_entry_name(name: str) -> list[str]:
    """The path's parts; InvalidInput naming the entry if it could escape a folder."""
    parts = name.rstrip("/").split("/")
    if "\\" in name or name.startswith("/") or _DRIVE.match(name) or any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(
            f"zip entry {name!r} has an unsafe path (absolute, '..', '\\' or a drive letter); "
            "use relative paths class/file.png",
            field="file",
        )
    return parts


def _label_of(name: str, parts: list[str]) -> str | None:
    if len(parts) > 2:
        raise InvalidInput(
            f"zip entry {name!r} is nested deeper than class/file; put images in top-level class folders", field="file"
        )
    if len(parts) == 1 or parts[0] == UNLABELLED_FOLDER:
        return None
    try:
        return check_class_name(parts[0])
    except ValueError as error:
        raise InvalidInput(
            f"zip entry {name!r}: folder {parts[0]!r} is not a valid class name: {error}", field="file"
        ) from error


def check_headers(entries: list[zipfile.ZipInfo], *, limits: ZipLimits) -> None:
    if len(entries) > limits.max_entries:
        raise TooLarge(f"the zip has {len(entries)} entries, more than the limit of {limits.max_entries}; split it")
    declared = sum(info.file_size for info in entries)
    compressed = sum(info.compress_size for info in entries)
    if declared > limits.max_bytes:
        raise TooLarge(f"the zip inflates to {declared} bytes, more than the limit of {limits.max_bytes}; split it")
    for info in entries:
        _check_ratio(info.filename, info.file_size, info.compress_size, limits=limits)
        if info.flag_bits & 0x1:
            raise InvalidInput(f"zip entry {info.filename!r} is encrypted; send an unencrypted zip", field="file")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidInput(
                f"zip entry {info.filename!r} uses compression method {info.compress_type}; only stored and deflate "
                "entries are read (what every zip tool writes by default), re-create the zip",
                field="file",
            )
        if info.file_size > limits.max_entry_bytes:
            raise TooLarge(f"zip entry {info.filename!r} is larger than the limit of {limits.max_entry_bytes} bytes")
    _check_ratio("the zip", declared, compressed, limits=limits)


def _check_ratio(what: str, inflated: int, compressed: int, *, limits: ZipLimits) -> None:
    if inflated > RATIO_FLOOR and inflated / max(compressed, 1) > limits.max_ratio:
        raise InvalidInput(
            f"{what} inflates {inflated / max(compressed, 1):.0f}-fold, more than the limit of {limits.max_ratio:.0f} "
            "(a zip bomb?); photos barely compress, send them as they are",
            field="file",
        )


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, limits: ZipLimits) -> bytes:
    """The entry's bytes, counted while inflating: more than declared, the per-image limit or the ratio is refused."""
    cap = min(info.file_size, limits.max_entry_bytes)
    data = bytearray()
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(CHUNK):
                data.extend(chunk)
                if len(data) > cap:
                    raise TooLarge(f"zip entry {info.filename!r} inflates beyond {cap} bytes (its declared size)")
                _check_ratio(repr(info.filename), len(data), info.compress_size, limits=limits)
    except ZIP_READ_ERRORS as error:
        raise InvalidInput(f"zip entry {info.filename!r} is corrupt or unsupported ({error})", field="file") from error
    return bytes(data)


def plan_import(archive: zipfile.ZipFile, *, limits: ZipLimits, max_pixels: int) -> ImportPlan:
    """Check every entry (names, sizes, ratios, images) without storing anything."""
    entries = archive.infolist()
    check_headers(entries, limits=limits)
    plan = ImportPlan()
    seen: dict[str, ZipImage] = {}
    inflated = 0
    budget = ImportBudget(limits=limits, entries=len(entries))
    for index, info in enumerate(entries):
        budget.check_time(index)
        parts = check_entry_name(info.filename)
        if parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
            continue
        if info.is_dir():
            label = _label_of(info.filename, [*parts, "-"])
            if label is not None and label not in plan.classes:
                plan.classes.append(label)
            continue
        label = _label_of(info.filename, parts)
        data = read_entry(archive, info, limits=limits)
        inflated += len(data)
        if inflated > limits.max_bytes:
            raise TooLarge(f"the zip inflates to more than the limit of {limits.max_bytes} bytes; split it")
        sha256 = sha256_bytes(data)
        twin = seen.get(sha256)
        if twin is not None and twin.label != label:
            raise InvalidInput(
                f"zip entries {twin.info.filename!r} and {info.filename!r} are the same image with different labels; "
                "keep one",
                field="file",
            )
        if twin is None:  # decoded once per distinct content, within the import's pixel budget
            budget.spend_pixels(index, header_pixels(data, name=info.filename, max_pixels=max_pixels))
            entry = ZipImage(
                info=info, label=label, sha256=sha256, image=image_info(data, name=info.filename, max_pixels=max_pixels)
            )
            seen[sha256] = entry
            plan.images.append(entry)
        if label is not None and label not in plan.classes:
            plan.classes.append(label)
    return plan


class ImportBudget:
    """The pixels and seconds one import may spend decoding; TooLarge says how far it got."""

    def __init__(self, *, limits: ZipLimits, entries: int) -> None:
        self.limits = limits
        self.entries = entries
        self.started = time.monotonic()
        self.pixels = 0
        self.decoded = 0

    def check_time(self, index: int) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.limits.max_seconds:
            raise TooLarge(
                f"the zip took more than the limit of {self.limits.max_seconds:g} s to check: {self._progress(index)} "
                f"in {elapsed:.1f} s; nothing was imported, split the zip into smaller ones (or smaller photos)"
            )

    def spend_pixels(self, index: int, pixels: int) -> None:
        if self.pixels + pixels > self.limits.max_pixels:
            raise TooLarge(
                f"the zip's photos hold more than the limit of {self.limits.max_pixels} pixels in all: "
                f"{self._progress(index)}, and the next would add {pixels}; nothing was imported, split the zip "
                "into smaller ones (or resize the photos)"
            )
        self.pixels += pixels
        self.decoded += 1

    def _progress(self, index: int) -> str:
        return (
            f"{index} of {self.entries} entries checked, {self.decoded} distinct images of {self.pixels} pixels decoded"
        )


def store_images(
    session: Session,
    *,
    store: ObjectStore,
    dataset: Dataset,
    archive: zipfile.ZipFile,
    images: list[ZipImage],
    limits: ZipLimits,
) -> list[tuple[ItemImage, str | None]]:
    """Put each planned image's bytes in the store, read again and checked against the plan's sha256; (the stored
    image, its label) each. Bytes first (reads and puts only), rows after: no write transaction is open while
    photos travel (see registry.datasets.add_items)."""
    stored = []
    for entry in images:
        data = read_entry(archive, entry.info, limits=limits)
        if sha256_bytes(data) != entry.sha256:
            raise InvalidInput(f"zip entry {entry.info.filename!r} changed while importing; send it again")
        image = ItemImage(name=entry.info.filename, data=data, sha256=entry.sha256, info=entry.image)
        put_item_object(session, store=store, dataset=dataset, image=image)
        stored.append((image.stored(), entry.label))
        del data, image
    return stored


def import_archive(
    session: Session, *, store: ObjectStore, dataset: Dataset, source: IO[bytes], limits: ZipLimits, max_pixels: int
) -> ImportOutcome:
    """Validate the whole zip, then create missing classes (sorted, as ImageFolder does) and store the images."""
    with open_archive(source) as archive:
        plan = plan_import(archive, limits=limits, max_pixels=max_pixels)
        stored = store_images(session, store=store, dataset=dataset, archive=archive, images=plan.images, limits=limits)
        known = set(class_names(session, dataset).values())
        created = sorted(name for name in plan.classes if name not in known)
        classes: dict[str, DatasetClass] = {
            name: ensure_class(session, dataset=dataset, name=name) for name in sorted(plan.classes)
        }
        before = count_items(session, dataset)
        for image, label_name in stored:
            label = classes[label_name] if label_name is not None else None
            add_item(session, store=store, dataset=dataset, image=image, label=label)
        added = count_items(session, dataset) - before
    return ImportOutcome(added=added, existing=len(plan.images) - added, classes_created=created)


def export_name(item: DatasetItem, used: set[str]) -> str:
    """The item's original name made safe for a zip (its real extension), unique within its folder."""
    clean = _UNSAFE_NAME_CHARS.sub("_", item.original_name).lstrip(". ")
    stem = (clean.rsplit(".", 1)[0] if "." in clean else clean) or item.sha256[:16]
    name = f"{stem}.{item.extension}"
    if name in used:
        name = f"{stem}-{item.sha256[:12]}.{item.extension}"
    used.add(name)
    return name


def write_export(session: Session, *, store: ObjectStore, dataset: Dataset, target: IO[bytes]) -> None:
    """Write the dataset as a zip to `target`: one folder per class (in order), unlabelled items in `_unlabelled/`."""
    names = class_names(session, dataset)
    used: dict[str, set[str]] = {folder: set() for folder in [*names.values(), UNLABELLED_FOLDER]}
    query = select(DatasetItem).where(DatasetItem.dataset_id == dataset.id, live_item())
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for folder in names.values():
            archive.mkdir(folder)
        for item in session.exec(query.order_by(col(DatasetItem.created_at), col(DatasetItem.id))):
            folder = names[item.class_id] if item.class_id else UNLABELLED_FOLDER
            archive.writestr(f"{folder}/{export_name(item, used[folder])}", store.get_bytes(item_key(item)))
