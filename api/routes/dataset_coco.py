"""Datasets in COCO's format: export one (a zip of annotations.json and images/, or the JSON alone), import a
COCO zip as a new dataset."""

from __future__ import annotations

from typing import IO, Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse

from api.dataset_imports import import_staged, new_dataset_spec, zip_limits
from api.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep, StoreDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.zip_files import file_stem, zip_response
from registry import rights as perms
from registry.datasets.coco import CocoImportPublic, coco_document, import_coco, write_coco_zip
from registry.schemas import Visibility
from registry.views.dataset_coco import coco_import_view

router = APIRouter(prefix="/datasets", tags=["datasets"])


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
    spec = new_dataset_spec(name, slug, description, visibility, file, suffixes="zip", fallback="COCO import")

    def run(source: IO[bytes]) -> CocoImportPublic:
        limits, pixels = zip_limits(settings), settings.max_image_pixels
        outcome = import_coco(
            session, store=store, owner=user, spec=spec, source=source, limits=limits, max_pixels=pixels
        )
        return coco_import_view(session, outcome, user)

    return await import_staged(
        file, session=session, settings=settings, owner_id=user.id, prefix="commons-coco-", run=run
    )


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
