"""Labelled image datasets: metadata, classes, items (photos), zip import/export and grants."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.dataset_imports import zip_limits
from api.deps import ClientAddress, CurrentUser, OptionalUser, PageDep, SessionDep, SettingsDep, StoreDep
from api.photo_batches import REJECTED_COUNT_HEADER, UploadReport, stage_batch
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.security import limit_grant_creation
from api.staging import stage, store_images
from api.zip_files import file_stem, zip_response
from commons.errors import InvalidInput
from registry import dataset_classes as classes
from registry import datasets as rows
from registry import rights as perms
from registry.audit import record, record_policy_changes
from registry.dataset_schemas import (
    ClassCreate,
    ClassPublic,
    ClassUpdate,
    DatasetCreate,
    DatasetPublic,
    DatasetUpdate,
    ImportPublic,
    ItemPublic,
    ItemUpdate,
)
from registry.dataset_zip import import_archive, write_export
from registry.quotas import check_owner_storage
from registry.schemas import GrantCreate, GrantPublic
from registry.views.datasets import class_view, class_views, dataset_view, item_view
from registry.views.grants import grant_view

router = APIRouter(prefix="/datasets", tags=["datasets"])
# GET/PATCH/DELETE /datasets/{ref}: included after every longer /datasets/{ref}/… route (see api.routes.refs)
item_router = APIRouter(prefix="/datasets", tags=["datasets"])
ClassParam = Annotated[str | None, Query(alias="class", description="Only items of this class (by name).")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DatasetPublic)
def create(spec: DatasetCreate, user: CurrentUser, session: SessionDep) -> DatasetPublic:
    return dataset_view(session, rows.create_dataset(session, owner=user, spec=spec), user)


@router.get("", response_model=list[DatasetPublic])
def list_datasets(user: OptionalUser, session: SessionDep, page: PageDep) -> list[DatasetPublic]:
    found = rows.list_visible_datasets(session, user, limit=page.limit, offset=page.offset)
    return [dataset_view(session, dataset, user) for dataset in found]


@item_router.get("/{dataset_id:ref}", response_model=DatasetPublic)
def read(dataset_id: str, user: OptionalUser, session: SessionDep) -> DatasetPublic:
    return dataset_view(session, perms.dataset_for(session, dataset_id=dataset_id, user=user), user)


@item_router.patch("/{dataset_id:ref}", response_model=DatasetPublic)
def update(
    dataset_id: str, changes: DatasetUpdate, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> DatasetPublic:
    """Edit the name and description (`modify`); visibility and derivatives are the owner's to change."""
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="modify")
    before = {field: getattr(dataset, field) for field in DatasetUpdate.OWNER_FIELDS}
    updated = rows.update_dataset(session, dataset=dataset, changes=changes, actor=user)
    record_policy_changes(session, actor=user, item=updated, before=before, address=address)
    return dataset_view(session, updated, user)


@item_router.delete("/{dataset_id:ref}", status_code=status.HTTP_204_NO_CONTENT)
def delete(dataset_id: str, user: CurrentUser, session: SessionDep, store: StoreDep, address: ClientAddress) -> None:
    """Delete the dataset (owner); refused (409) while tasks run on it or items are made from it."""
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="own")
    detail = {"items": rows.count_items(session, dataset)}
    record(session, actor=user, action="dataset.delete", target=dataset, detail=detail, address=address)
    rows.delete_dataset(session, store=store, dataset=dataset)


@router.post("/{dataset_id:ref}/classes", status_code=status.HTTP_201_CREATED, response_model=ClassPublic)
def create_class(dataset_id: str, spec: ClassCreate, user: CurrentUser, session: SessionDep) -> ClassPublic:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="modify")
    return class_view(session, dataset, classes.create_class(session, dataset=dataset, name=spec.name))


@router.get("/{dataset_id:ref}/classes", response_model=list[ClassPublic])
def list_classes(dataset_id: str, user: OptionalUser, session: SessionDep, page: PageDep) -> list[ClassPublic]:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user)
    found = classes.list_classes(session, dataset)[page.offset : page.offset + page.limit]
    return class_views(session, dataset, found)


@router.patch("/{dataset_id:ref}/classes/{class_id}", response_model=ClassPublic)
def rename_class(
    dataset_id: str, class_id: str, spec: ClassUpdate, user: CurrentUser, session: SessionDep
) -> ClassPublic:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="modify")
    renamed = classes.rename_class(session, dataset=dataset, class_id=class_id, name=spec.name)
    return class_view(session, dataset, renamed)


@router.delete("/{dataset_id:ref}/classes/{class_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_class(dataset_id: str, class_id: str, user: CurrentUser, session: SessionDep) -> None:
    """Delete the class; its items stay in the dataset, unlabelled."""
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="modify")
    classes.delete_class(session, dataset=dataset, class_id=class_id)


@router.post(
    "/{dataset_id:ref}/items",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ItemPublic] | UploadReport,
    responses={201: {"headers": {REJECTED_COUNT_HEADER: {"description": "How many files were skipped (when any)."}}}},
)
async def add_items(
    dataset_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
    files: Annotated[list[UploadFile], File(description="Photos: PNG, JPEG, TIFF, BMP or WebP.")],
    label: Annotated[str | None, Form(alias="class", description="Label them all with this class.")] = None,
    report: Annotated[
        bool, Query(description="true: answer {items, rejected}, naming each skipped file and why.")
    ] = False,
) -> list[ItemPublic] | UploadReport:
    """Add photos; one already in the dataset is returned as it is (relabelled when `class` is given).

    A bad file (not an image, damaged, too large) is skipped and the rest are added: the answer is the list of
    added items, with the `Commons-Rejected-Count` header when files were skipped, or with `report=true`
    `{items, rejected}` where `rejected` names each skipped file and why. When every file is bad, 4xx."""
    dataset = await run_in_threadpool(perms.dataset_for, session, dataset_id=dataset_id, user=user, need="modify")
    if len(files) > settings.max_zip_entries:
        raise InvalidInput(f"send at most {settings.max_zip_entries} files at once, or a zip", field="files")
    # every file is checked before any is stored, one at a time: memory of one photo, whatever their number
    batch = await stage_batch(files, limit=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
    batch.refuse_if_nothing_kept()
    adding = sum(image.size for image in batch.images)
    await run_in_threadpool(check_owner_storage, session, owner_id=dataset.owner_id, settings=settings, adding=adding)
    added = await run_in_threadpool(
        lambda: store_images(session, store=store, dataset=dataset, images=batch.images, label=label or None)
    )
    names = classes.class_names(session, dataset)
    views = [item_view(item, names, store=store, expires_seconds=settings.presign_expiry_seconds) for item in added]
    if batch.rejected:
        response.headers[REJECTED_COUNT_HEADER] = str(len(batch.rejected))
    return UploadReport(items=views, rejected=batch.rejected) if report else views


@router.get("/{dataset_id:ref}/items", response_model=list[ItemPublic])
def list_items(
    dataset_id: str,
    user: OptionalUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    page: PageDep,
    label: ClassParam = None,
    labelled: Annotated[bool | None, Query(description="true: labelled items only; false: unlabelled only.")] = None,
) -> list[ItemPublic]:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user)
    found = rows.list_items(session, dataset, label=label, labelled=labelled, limit=page.limit, offset=page.offset)
    names = classes.class_names(session, dataset)
    return [item_view(item, names, store=store, expires_seconds=settings.presign_expiry_seconds) for item in found]


@router.get("/{dataset_id:ref}/items/{item_id}", response_model=ItemPublic)
def read_item(
    dataset_id: str, item_id: str, user: OptionalUser, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> ItemPublic:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user)
    item = rows.get_item(session, dataset, item_id)
    return item_view(
        item, classes.class_names(session, dataset), store=store, expires_seconds=settings.presign_expiry_seconds
    )


@router.patch("/{dataset_id:ref}/items/{item_id}", response_model=ItemPublic)
def relabel_item(
    dataset_id: str,
    item_id: str,
    change: ItemUpdate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> ItemPublic:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="modify")
    item = rows.set_label(session, dataset=dataset, item_id=item_id, label=change.label)
    return item_view(
        item, classes.class_names(session, dataset), store=store, expires_seconds=settings.presign_expiry_seconds
    )


@router.delete("/{dataset_id:ref}/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(
    dataset_id: str, item_id: str, user: CurrentUser, session: SessionDep, store: StoreDep, address: ClientAddress
) -> None:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="modify")
    rows.delete_item(session, store=store, dataset=dataset, item_id=item_id)
    record(session, actor=user, action="item.delete", target=dataset, detail={"item": item_id}, address=address)


@router.post("/{dataset_id:ref}/import", response_model=ImportPublic)
async def import_zip(
    dataset_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A zip of class folders of photos (the ImageFolder layout).")],
) -> ImportPublic:
    """Import a zip: top-level folders are classes (created when missing), top-level files are unlabelled."""
    dataset = await run_in_threadpool(perms.dataset_for, session, dataset_id=dataset_id, user=user, need="modify")
    limits = zip_limits(settings)
    folder = Path(tempfile.mkdtemp(prefix="commons-import-"))
    try:
        staged = await stage(file, folder=folder, limit=settings.max_zip_bytes)
        await run_in_threadpool(
            check_owner_storage, session, owner_id=dataset.owner_id, settings=settings, adding=staged.size
        )

        def run() -> ImportPublic:
            with staged.path.open("rb") as source:
                outcome = import_archive(
                    session,
                    store=store,
                    dataset=dataset,
                    source=source,
                    limits=limits,
                    max_pixels=settings.max_image_pixels,
                )
            public = dataset_view(session, dataset, user)
            return ImportPublic(
                added=outcome.added, existing=outcome.existing, classes_created=outcome.classes_created, dataset=public
            )

        return await run_in_threadpool(run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get("/{dataset_id:ref}/export", response_class=FileResponse)
def export_zip(dataset_id: str, user: OptionalUser, session: SessionDep, store: StoreDep) -> FileResponse:
    """The dataset as a zip: one folder per class, unlabelled items under `_unlabelled/`."""
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user)
    return zip_response(
        lambda target: write_export(session, store=store, dataset=dataset, target=target),
        filename=f"{file_stem(dataset.name, dataset.id)}.zip",
        prefix="commons-export-",
    )


@router.post(
    "/{dataset_id:ref}/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantPublic,
    dependencies=[Depends(limit_grant_creation)],
)
def create_grant(
    dataset_id: str, spec: GrantCreate, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> GrantPublic:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="own")
    return grant_view(session, perms.create_grant(session, dataset, spec, actor=user, address=address))


@router.get("/{dataset_id:ref}/grants", response_model=list[GrantPublic])
def list_grants(dataset_id: str, user: CurrentUser, session: SessionDep) -> list[GrantPublic]:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="own")
    return [grant_view(session, item) for item in perms.list_grants(session, dataset)]


@router.delete("/{dataset_id:ref}/grants/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_grant(
    dataset_id: str, grant_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> None:
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user, need="own")
    perms.delete_grant(session, dataset, grant_id, actor=user, address=address)
