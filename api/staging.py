"""Receive uploaded files into temporary files, hashing as they stream and enforcing size limits.

Many-file photo uploads (`api.photo_batches.stage_batch`, then `store_images`) take the memory of one photo
whatever their number: each photo is read, validated and dropped before the next is read; it waits for the
others in its upload's temporary file (the multipart parser's, on disk past 64 KiB: see `api/body_limits.py`),
and is read back from there, one at a time, when it is stored. Every photo is checked before any is stored; a
bad one is set aside with its reason and the rest kept.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import UploadFile
from sqlmodel import Session

from commons.errors import InvalidInput, TooLarge
from commons.image_io import ImageInfo
from commons.store import ObjectStore
from registry import datasets as rows
from registry.models import Dataset, DatasetItem
from registry.versions import StagedFile

CHUNK = 1024 * 1024


async def read_limited(upload: UploadFile, *, limit: int) -> bytes:
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise TooLarge(f"{upload.filename} is larger than the limit of {limit} bytes; send a smaller file")
    return bytes(data)


async def stage(upload: UploadFile, *, folder: Path, limit: int) -> StagedFile:
    name = Path(upload.filename or "").name
    if not name:
        raise InvalidInput("every uploaded file needs a file name", field="files")
    digest = hashlib.sha256()
    size = 0
    # A folder of its own keeps the file's own name, so checks and messages show what the user sent.
    path = Path(tempfile.mkdtemp(dir=folder)) / name
    with path.open("wb") as handle:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{name} is larger than the limit of {limit} bytes")
            digest.update(chunk)
            handle.write(chunk)
    return StagedFile(name=name, path=path, size=size, sha256=digest.hexdigest())


@dataclass(frozen=True)
class StagedImage:
    """A photo that passed validation; its bytes stay in its upload's temporary file until it is stored."""

    upload: UploadFile
    name: str
    size: int
    sha256: str
    info: ImageInfo

    def load(self) -> rows.ItemImage:
        """The photo's bytes, read back (blocking: call it on a worker thread)."""
        self.upload.file.seek(0)
        data = self.upload.file.read()
        if len(data) != self.size:  # the temporary file is ours alone; a change would be a bug, not bad input
            raise RuntimeError(f"{self.name} changed in its temporary file ({len(data)} bytes, not {self.size})")
        return rows.ItemImage(name=self.name, data=data, sha256=self.sha256, info=self.info)


def store_images(
    session: Session, *, store: ObjectStore, dataset: Dataset, images: list[StagedImage], label: str | None
) -> list[DatasetItem]:
    """Store the staged photos (blocking: call it on a worker thread): every photo's bytes to the object store
    first, one at a time, then all the rows (see `rows.add_items`), so no write transaction is open while bytes
    travel."""
    kept = []
    for image in images:
        loaded = image.load()
        rows.put_item_object(session, store=store, dataset=dataset, image=loaded)
        kept.append(loaded.stored())
        del loaded
    return rows.add_items(session, store=store, dataset=dataset, images=kept, label=label, stored=True)
