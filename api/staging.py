"""Receive uploaded files into temporary files, hashing as they stream and enforcing size limits."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from fastapi import UploadFile

from commons.errors import InvalidInput, TooLarge
from registry.versions import StagedFile

CHUNK = 1024 * 1024


async def read_limited(upload: UploadFile, *, limit: int) -> bytes:
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise TooLarge(f"{upload.filename} is larger than the limit of {limit} bytes; send a smaller file")
    return bytes(data)


async def stage(upload: UploadFile, *, folder: Path, limit: int) -> StagedFile:
    name = Path(upload.filename or "").name
    if not name:
        raise InvalidInput("every uploaded file needs a file name", field="files")
    digest = hashlib.sha256()
    size = 0
    # A folder of its own keeps the file's own name, so checks and messages show what the user sent.
    path = Path(tempfile.mkdtemp(dir=folder)) / name
    with path.open("wb") as handle:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{name} is larger than the limit of {limit} bytes")
            digest.update(chunk)
            handle.write(chunk)
    return StagedFile(name=name, path=path, size=size, sha256=digest.hexdigest())
