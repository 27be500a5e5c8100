"""A task's outputs as one zip: the files the reader may read, under their output names, and manifest.json."""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from commons.errors import Conflict, TooLarge
from commons.store import ObjectStore
from registry.models import Task
from registry.schemas import OutputPublic

STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".safetensors", ".pt", ".pth", ".onnx", ".ckpt", ".zip")


@dataclass(frozen=True)
class ZipEntry:
    name: str
    key: str
    size: int


def zip_entries(task: Task, shown: list[OutputPublic]) -> list[ZipEntry]:
    """The outputs offered to the reader (`shown` with a URL) and the manifest; Conflict before the task
    succeeded (nothing is published until then)."""
    if task.status != "succeeded" or not task.manifest_key:
        raise Conflict(
            f"task {task.id} is {task.status}; its outputs can be downloaded once it has succeeded"
            if task.status != "succeeded"
            else f"task {task.id} published no manifest, so there is nothing to download"
        )
    offered = {o.name for o in shown if o.url is not None}
    entries = [
        ZipEntry(name=_safe_name(o["name"]), key=o["key"], size=int(o["size"]))
        for o in task.outputs
        if o["name"] in offered
    ]
    return [*entries, ZipEntry(name="manifest.json", key=task.manifest_key, size=0)]


def _safe_name(name: str) -> str:
    """An output name as a zip entry: relative, no `..` (names are made by the flows; this only makes sure)."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "..", "/")]
    return "/".join(parts) or "output"


def write_outputs_zip(store: ObjectStore, entries: list[ZipEntry], *, target: IO[bytes], max_bytes: int) -> None:
    """Write the entries into `target`, fetching one object at a time; TooLarge (before anything is fetched)
    when their total size passes `max_bytes`."""
    total = sum(entry.size for entry in entries)
    if total > max_bytes:
        raise TooLarge(
            f"the outputs come to {total} bytes, more than the {max_bytes} one zip may carry; "
            "download the files one by one from the task's list instead"
        )
    with tempfile.TemporaryDirectory(prefix="commons-outputs-") as folder, zipfile.ZipFile(target, "w") as archive:
        part = Path(folder) / "part"
        for entry in entries:
            store.download(key=entry.key, path=part)
            stored = entry.name.lower().endswith(STORED_SUFFIXES)
            archive.write(
                part, arcname=entry.name, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            )
            part.unlink()
