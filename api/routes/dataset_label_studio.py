"""A Label Studio JSON export imported as a new dataset: the export alone (photos as data URLs) or a zip of
`export.json` and the photos."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.deps import CurrentUser, SessionDep, SettingsDep, StoreDep
from api.routes.dataset_coco import _limits
from api.staging import stage
from commons.errors import InvalidInput
from registry.dataset_schemas import DatasetCreate
from registry.datasets.label_studio import LabelStudioImportPublic, import_label_studio
from registry.quotas import check_owner_storage
from registry.schemas import Visibility
from registry.views.dataset_label_studio import label_studio_import_view

router = APIRouter(prefix="/datasets", tags=["datasets"])


def _spec(
    name: str | None, slug: str | None, description: str, visibility: Visibility, file: UploadFile
) -> DatasetCreate:
    stem = re.sub(r"\.(zip|json)$", "", Path(file.filename or "").name, flags=re.IGNORECASE).strip()
    try:
        return DatasetCreate(
            name=name or (stem or "Label Studio import")[:200],
            slug=slug or None,
            description=description,
            visibility=visibility,
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "name"
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from error


@router.post("/label-studio", status_code=status.HTTP_201_CREATED, response_model=LabelStudioImportPublic)
async def import_label_studio_export(
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile,
        File(
            description="Label Studio's JSON export (photos as data URLs), or a zip of export.json and the photos "
            "named by the base name of each task's data.image."
        ),
    ],
    name: Annotated[str | None, Form(description="The new dataset's name (default: the file's name).")] = None,
    slug: Annotated[str | None, Form(description="Where it lives: /datasets/{you}/{slug}.")] = None,
    description: Annotated[str, Form(max_length=20_000)] = "",
    visibility: Annotated[Visibility, Form()] = "private",
) -> LabelStudioImportPublic:
    """A new dataset of yours from a Label Studio project's JSON export: the classes are the choices its
    annotations name (in first-seen order); each task's photo is added, labelled with the one choice its
    annotations make (several: unlabelled, counted as `mixed`; cancelled annotations and predictions are not
    read). The upload is checked whole (sizes, ratios, names, every photo) before anything is stored."""
    spec = _spec(name, slug, description, visibility, file)
    folder = Path(tempfile.mkdtemp(prefix="commons-label-studio-"))
    try:
        staged = await stage(file, folder=folder, limit=settings.max_zip_bytes)
        await run_in_threadpool(check_owner_storage, session, owner_id=user.id, settings=settings, adding=staged.size)

        def run() -> LabelStudioImportPublic:
            with staged.path.open("rb") as source:
                outcome = import_label_studio(
                    session,
                    store=store,
                    owner=user,
                    spec=spec,
                    source=source,
                    limits=_limits(settings),
                    max_pixels=settings.max_image_pixels,
                )
            return label_studio_import_view(session, outcome, user)

        return await run_in_threadpool(run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
