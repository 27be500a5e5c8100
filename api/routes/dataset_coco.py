"""Datasets in COCO's format: export one (a zip of annotations.json and images/, or the JSON alone), import a
COCO zip as a new dataset."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from api.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep, StoreDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.staging import stage
from api.zip_files import file_stem, zip_response
from commons.errors import InvalidInput
from commons.settings import Settings
from registry import rights as perms
from registry.dataset_schemas import DatasetCreate
from registry.dataset_zip import ZipLimits
from registry.datasets.coco import CocoImportPublic, coco_document, import_coco, write_coco_zip
from registry.quotas import check_owner_storage
from registry.schemas import Visibility
from registry.views.dataset_coco import coco_import_view

router = APIRouter(prefix="/datasets", tags=["datasets"])


def _limits(settings: Settings) -> ZipLimits:
    return ZipLimits(
        max_bytes=settings.max_zip_bytes,
        max_entries=settings.max_zip_entries,
        max_ratio=settings.max_zip_ratio,
        max_entry_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_import_pixels,
        max_seconds=settings.max_import_seconds,
    )


def _spec(
    name: str | None, slug: str | None, description: str, visibility: Visibility, file: UploadFile
) -> DatasetCreate:
    default = re.sub(r"\.zip$", "", Path(file.filename or "").name, flags=re.IGNORECASE).strip() or "COCO import"
    try:
        return DatasetCreate(
            name=name or default[:200], slug=slug or None, description=description, visibility=visibility
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "name"
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from error


@router.post("/coco", status_code=status.HTTP_201_CREATED, response_model=CocoImportPublic)
async def import_coco_zip(
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A zip: annotations.json (COCO) and the photos under images/.")],
    name: Annotated[str | None, Form(description="The new dataset's name (default: the zip's name).")] = None,
    slug: Annotated[str | None, Form(description="Where it lives: /datasets/{you}/{slug}.")] = None,
    description: Annotated[str, Form(max_length=20_000)] = "",
    visibility: Annotated[Visibility, Form()] = "private",
) -> CocoImportPublic:
    """A new dataset of yours from a COCO zip: the categories become its classes (in id order), each listed
    photo is added, labelled with the one category its annotations name (several: unlabelled, counted as
    `mixed`). The zip is checked whole (sizes, ratios, names, every photo) before anything is stored."""
    spec = _spec(name, slug, description, visibility, file)
    folder = Path(tempfile.mkdtemp(prefix="commons-coco-"))
    try:
        staged = await stage(file, folder=folder, limit=settings.max_zip_bytes)
        await run_in_threadpool(check_owner_storage, session, owner_id=user.id, settings=settings, adding=staged.size)

        def run() -> CocoImportPublic:
            with staged.path.open("rb") as source:
                outcome = import_coco(
                    session,
                    store=store,
                    owner=user,
                    spec=spec,
                    source=source,
                    limits=_limits(settings),
                    max_pixels=settings.max_image_pixels,
                )
            return coco_import_view(session, outcome, user)

        return await run_in_threadpool(run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get(
    "/{dataset_id:ref}/coco",
    response_class=FileResponse,
    response_model=None,
    responses={200: {"content": {"application/zip": {}, "application/json": {}}}},
)
def export_coco(
    dataset_id: str,
    user: OptionalUser,
    session: SessionDep,
    store: StoreDep,
    images: Annotated[bool, Query(description="false: the COCO JSON alone, without the photos.")] = True,
) -> FileResponse | JSONResponse:
    """The dataset in COCO's format: a zip of `annotations.json` and `images/`; one whole-photo annotation per
    labelled photo (bbox, polygon and area of the full photo), categories in class order from 1."""
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user)
    if not images:
        return JSONResponse(coco_document(session, dataset))
    return zip_response(
        lambda target: write_coco_zip(session, store=store, dataset=dataset, target=target),
        filename=f"{file_stem(dataset.name, dataset.id)}-coco.zip",
        prefix="commons-coco-",
    )
