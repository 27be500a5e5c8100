"""Uploaded photos as the API shows them."""

from __future__ import annotations

from registry.models import Upload
from registry.schemas import UploadPublic
from registry.views.base import view


def upload_view(upload: Upload) -> UploadPublic:
    return view(UploadPublic, upload)
