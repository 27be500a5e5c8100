"""Uploaded input files (photos), stored once under `uploads/<id>`."""

from __future__ import annotations

from sqlmodel import Session

from commons.errors import NotFound
from commons.store import ObjectStore, keys
from registry.models import Upload, User


def create_upload(
    session: Session,
    *,
    store: ObjectStore,
    owner: User,
    name: str,
    data: bytes,
    sha256: str,
    content_type: str,
    width: int,
    height: int,
) -> Upload:
    upload = Upload(
        owner_id=owner.id,
        name=name,
        size=len(data),
        sha256=sha256,
        content_type=content_type,
        width=width,
        height=height,
    )
    store.put_bytes(key=keys.upload(upload.id), data=data, content_type=content_type)
    session.add(upload)
    session.flush()
    return upload


def uploads_for_task(session: Session, *, owner: User, upload_ids: list[str]) -> list[Upload]:
    """The caller's own uploads, in the order given; anything else is NotFound."""
    found: list[Upload] = []
    for upload_id in upload_ids:
        upload = session.get(Upload, upload_id)
        if upload is None or upload.owner_id != owner.id:
            raise NotFound(
                f"no upload {upload_id!r} of yours; upload photos with POST /api/v1/uploads first", field="inputs"
            )
        found.append(upload)
    return found
