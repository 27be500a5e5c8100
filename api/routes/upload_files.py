"""An input photo as it was uploaded, for its owner: the Segment page reopens a finished task on it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CurrentUser, SessionDep, StoreDep
from commons.errors import NotFound
from commons.store import keys
from registry.uploads import uploads_for_task

router = APIRouter(prefix="/uploads", tags=["uploads"])


@router.get(
    "/{upload_id}/file",
    response_class=Response,
    responses={200: {"content": {"image/*": {}}, "description": "The photo's bytes, as uploaded."}},
)
def upload_file(upload_id: str, user: CurrentUser, session: SessionDep, store: StoreDep) -> Response:
    """The bytes of one of your uploads (404 for anyone else's, or one that was deleted)."""
    upload = uploads_for_task(session, owner=user, upload_ids=[upload_id])[0]
    key = keys.upload(upload.id)
    if not store.exists(key):
        raise NotFound(f"the photo {upload.name!r} is no longer stored; upload it again")
    data = store.get_bytes(key)
    return Response(data, media_type=upload.content_type, headers={"Cache-Control": "private, max-age=3600"})
