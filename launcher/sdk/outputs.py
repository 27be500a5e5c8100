"""A finished task's outputs, downloaded into a folder: every file it lists, checked against its size and sha256,
and `manifest.json` beside them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from launcher.sdk.errors import DownloadError

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Outputs:
    """What a task left in `folder`: `files` (its outputs, then `manifest.json`), the `manifest` as a dict, the
    `task` as the API shows it, and `withheld` (output name → why it is not offered to you)."""

    task: dict[str, Any]
    folder: Path
    files: list[Path] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    withheld: dict[str, str] = field(default_factory=dict)

    @property
    def task_id(self) -> str:
        return str(self.task["id"])

    @property
    def report(self) -> dict[str, Any] | None:
        """A reproduction's `reproduction.json` (figures and digests beside the original's), when there is one."""
        path = self.folder / "reproduction.json"
        if path not in self.files:
            return None
        loaded = json.loads(path.read_text())
        return loaded if isinstance(loaded, dict) else None

    def __getitem__(self, name: str) -> Path:
        """The downloaded file of the output `name` (e.g. `outputs["masks.json"]`)."""
        path = self.folder / name
        if path not in self.files:
            raise KeyError(f"task {self.task_id} has no downloaded output {name!r}")
        return path


def _target(folder: Path, name: str) -> Path:
    """Where the output `name` goes: inside `folder`, whatever the name says."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or "\\" in name or any(part in {"", ".", ".."} for part in parts):
        raise DownloadError(f"the task lists an output named {name!r}, which is no safe file name; not written")
    return folder.joinpath(*parts)


def _fetch(http: httpx.Client, url: str, target: Path, *, size: int, sha256: str) -> None:
    """Stream `url` to `target` (through a `.part` file), stopping past `size` bytes; the digest must match."""
    partial = target.with_name(target.name + ".part")
    digest, received = hashlib.sha256(), 0
    try:
        with http.stream("GET", url) as response, partial.open("wb") as sink:
            if response.status_code >= 400:
                raise DownloadError(f"{target.name}: the object store answered HTTP {response.status_code}")
            for chunk in response.iter_bytes(CHUNK):
                received += len(chunk)
                if received > size:
                    raise DownloadError(f"{target.name}: more bytes than the {size} the task lists; not kept")
                digest.update(chunk)
                sink.write(chunk)
        if received != size or digest.hexdigest() != sha256:
            raise DownloadError(f"{target.name}: the bytes received do not match the size and sha256 the task lists")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _manifest(http: httpx.Client, url: str) -> dict[str, Any]:
    with http.stream("GET", url) as response:
        if response.status_code >= 400:
            raise DownloadError(f"{MANIFEST_NAME}: the object store answered HTTP {response.status_code}")
        body = b""
        for chunk in response.iter_bytes(CHUNK):
            body += chunk
            if len(body) > MAX_MANIFEST_BYTES:
                raise DownloadError(f"{MANIFEST_NAME} is over {MAX_MANIFEST_BYTES // 2**20} MiB; not kept")
    try:
        manifest = json.loads(body)
    except ValueError as error:
        raise DownloadError(f"{MANIFEST_NAME} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict):
        raise DownloadError(f"{MANIFEST_NAME} is not a JSON object")
    return manifest


def download_outputs(task: dict[str, Any], folder: Path, *, timeout: float = 120) -> Outputs:
    """Every output of `task` you may read into `folder` (created if needed; files of the same name replaced)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot make the folder {folder}: {error.strerror}") from error
    files: list[Path] = []
    withheld: dict[str, str] = {}
    # Presigned URLs carry their own signature: this client sends no API token to the object store.
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        for output in task.get("outputs", []):
            if not output.get("url"):
                withheld[output["name"]] = output.get("withheld") or "not offered to you"
                continue
            target = _target(folder, output["name"])
            target.parent.mkdir(parents=True, exist_ok=True)
            _fetch(http, output["url"], target, size=int(output["size"]), sha256=output["sha256"])
            files.append(target)
        manifest = _manifest(http, task["manifest_url"]) if task.get("manifest_url") else None
    if manifest is not None:
        path = folder / MANIFEST_NAME
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        files.append(path)
    return Outputs(task=task, folder=folder, files=files, manifest=manifest, withheld=withheld)
