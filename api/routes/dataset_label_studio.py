"""A Label Studio JSON export imported as a new dataset: the export alone (photos as data URLs) or a zip of
`export.json` and the photos."""

from __future__ import annotations

from typing import IO, Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from api.dataset_imports import import_staged, new_dataset_spec, zip_limits
from api.deps import CurrentUser, SessionDep, SettingsDep, StoreDep
from registry.datasets.label_studio import LabelStudioImportPublic, import_label_studio
from registry.schemas import Visibility
from registry.views.dataset_label_studio import label_studio_import_view

router = APIRouter(prefix="/datasets", tags=["datasets"])


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
    spec = new_dataset_spec(
        name, slug, description, visibility, file, suffixes="zip|json", fallback="Label Studio import"
    )

    def run(source: IO[bytes]) -> LabelStudioImportPublic:
        limits, pixels = zip_limits(settings), settings.max_image_pixels
        outcome = import_label_studio(
            session, store=store, owner=user, spec=spec, source=source, limits=limits, max_pixels=pixels
        )
        return label_studio_import_view(session, outcome, user)

    return await import_staged(
        file, session=session, settings=settings, owner_id=user.id, prefix="commons-label-studio-", run=run
    )
