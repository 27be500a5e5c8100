"""A zip written to a temporary file and sent as the answer; the file is removed once sent (or on failure)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask


def zip_response(write: Callable[[IO[bytes]], None], *, filename: str, prefix: str = "commons-") -> FileResponse:
    """`write(target)` fills a temporary file; the answer sends it as `filename` and then removes it."""
    handle = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".zip", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            write(handle)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type="application/zip", filename=filename, background=BackgroundTask(path.unlink))


def file_stem(name: str, fallback: str) -> str:
    """`name` as a safe download name (letters, digits, `._-`), or `fallback` when nothing is left."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or fallback
