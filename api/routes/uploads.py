"""Input photos: validated as images on the way in, stored once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentUser, SessionDep, SettingsDep, StoreDep
from api.staging import read_limited
from commons.hashing import sha256_bytes
from commons.image_io import image_info
from registry.quotas import check_storage_quota
from registry.schemas import UploadPublic
from registry.uploads import create_upload
from registry.views.uploads import upload_view

router = APIRouter(prefix="/uploads", tags=["uploads"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UploadPublic)
async def upload(
    file: Annotated[UploadFile, File(description="A photo: PNG, JPEG, TIFF, BMP or WebP.")],
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> UploadPublic:
    name = (file.filename or "upload").rsplit("/", 1)[-1][:255] or "upload"
    data = await read_limited(file, limit=settings.max_upload_bytes)
    await run_in_threadpool(check_storage_quota, session, user=user, settings=settings, adding=len(data))
    info = await run_in_threadpool(image_info, data, name=name, max_pixels=settings.max_image_pixels)
    created = await run_in_threadpool(
        lambda: create_upload(
            session,
            store=store,
            owner=user,
            name=name,
            data=data,
            sha256=sha256_bytes(data),
            content_type=info.content_type,
            width=info.width,
            height=info.height,
        )
    )
    return upload_view(created)
