"""What the routes that import an upload into a dataset share: the zip limits from the settings, the new
dataset's spec from the form, and the upload staged on disk, its size charged to the owner's storage, then
imported in a worker thread and the staging folder removed."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from fastapi import UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlmodel import Session

from api.staging import stage
from commons.errors import InvalidInput
from commons.settings import Settings
from registry.dataset_schemas import DatasetCreate
from registry.dataset_zip import ZipLimits
from registry.quotas import check_owner_storage
from registry.schemas import Visibility

T = TypeVar("T")


def zip_limits(settings: Settings) -> ZipLimits:
    return ZipLimits(
        max_bytes=settings.max_zip_bytes,
        max_entries=settings.max_zip_entries,
        max_ratio=settings.max_zip_ratio,
        max_entry_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_import_pixels,
        max_seconds=settings.max_import_seconds,
    )


def new_dataset_spec(
    name: str | None,
    slug: str | None,
    description: str,
    visibility: Visibility,
    file: UploadFile,
    *,
    suffixes: str,
    fallback: str,
) -> DatasetCreate:
    """The new dataset's fields from the form; its name defaults to the file's, without `suffixes` (a regex
    alternation such as `zip|json`), else `fallback`. A bad field is InvalidInput naming it."""
    stem = re.sub(rf"\.({suffixes})$", "", Path(file.filename or "").name, flags=re.IGNORECASE).strip()
    try:
        return DatasetCreate(
            name=name or (stem or fallback)[:200], slug=slug or None, description=description, visibility=visibility
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "name"
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from error


async def import_staged(
    file: UploadFile,
    *,
    session: Session,
    settings: Settings,
    owner_id: str,
    prefix: str,
    run: Callable[[IO[bytes]], T],
) -> T:
    """Stage `file` (at most COMMONS_MAX_ZIP_BYTES), charge its size to `owner_id`'s storage, then `run(source)`
    in a worker thread; the staged copy is removed whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        staged = await stage(file, folder=folder, limit=settings.max_zip_bytes)
        await run_in_threadpool(check_owner_storage, session, owner_id=owner_id, settings=settings, adding=staged.size)

        def opened() -> T:
            with staged.path.open("rb") as source:
                return run(source)

        return await run_in_threadpool(opened)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
