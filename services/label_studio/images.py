"""The photo a Label Studio task names, as a commons upload of the caller's.

Two ways, neither of which makes the commons fetch a URL a client chose (no request to Label Studio's host or to
any other: no SSRF, and no Label Studio credentials kept in the commons):

- a data URL (`data:image/png;base64,…`): stored as a new upload (the usual photo checks and size limits);
- the address of one of the caller's commons uploads (`…/api/v1/uploads/<id>/file`): that upload.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from sqlmodel import Session

from commons.errors import InvalidInput, TooLarge
from commons.hashing import sha256_bytes
from commons.image_io import image_info
from commons.settings import Settings
from commons.store import ObjectStore
from registry.models import Upload, User
from registry.quotas import check_storage_quota
from registry.uploads import create_upload, uploads_for_task

DATA_URL: Final = re.compile(r"data:(image/[a-z0-9.+-]+)?(;[a-z0-9=.-]+)*;base64,", re.IGNORECASE)
UPLOAD_URL: Final = re.compile(r"(?:https?://[^/\s]+)?/api/v1/uploads/([A-Za-z0-9_-]{1,32})/file")
HOW: Final = (
    "give the task's image as a data URL (data:image/png;base64,…) or as the address of one of your commons uploads "
    "(POST /api/v1/uploads, then …/api/v1/uploads/<id>/file)"
)


def _decoded(value: str, *, field: str, limit: int) -> bytes:
    encoded = value[value.index(",") + 1 :]
    if len(encoded) > limit * 4 // 3 + 4:
        raise TooLarge(f"{field}: the photo is larger than the limit of {limit} bytes; send a smaller one")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(f"{field}: the data URL's base64 cannot be read ({error})", field=field) from error


def task_upload(
    session: Session, *, store: ObjectStore, settings: Settings, owner: User, value: object, field: str
) -> Upload:
    """The upload for the image value `value` of a task (see the module's docstring); InvalidInput otherwise."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field}: the task has no image; {HOW}", field=field)
    if DATA_URL.match(value):
        data = _decoded(value, field=field, limit=settings.max_upload_bytes)
        check_storage_quota(session, user=owner, settings=settings, adding=len(data))
        name = f"label-studio-{sha256_bytes(data)[:12]}"
        info = image_info(data, name=name, max_pixels=settings.max_image_pixels)
        return create_upload(
            session,
            store=store,
            owner=owner,
            name=f"{name}.{info.format.lower()}",
            data=data,
            sha256=sha256_bytes(data),
            content_type=info.content_type,
            width=info.width,
            height=info.height,
        )
    found = UPLOAD_URL.fullmatch(value.split("?", 1)[0])
    if found:
        return uploads_for_task(session, owner=owner, upload_ids=[found.group(1)])[0]
    shown = value if len(value) <= 80 else value[:77] + "…"
    raise InvalidInput(f"{field}: the commons does not fetch {shown!r}; {HOW}", field=field)
