"""RO-Crates: a task as a Workflow Run Crate, a resource version as an RO-Crate (`registry.crates`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import ClientAddress, CurrentUser, OptionalUser, SessionDep, SettingsDep, StoreDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.routes.resources import VersionRef
from registry import task_reading
from registry.audit import record_for_owner
from registry.crates import CrateRequest, Links, write_task_crate, write_version_crate
from registry.rights import resource_for
from registry.versions import get_version

router = APIRouter(tags=["crates"])
ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "The RO-Crate as one zip."}
}


def _workspace() -> tuple[Path, Path]:
    """A working folder for the crate's files, and the zip's path beside it (not inside: the zip is sent)."""
    folder = Path(tempfile.mkdtemp(prefix="commons-crate-"))
    return folder / "parts", folder / "crate.zip"


def _send(target: Path, *, filename: str) -> FileResponse:
    shutil.rmtree(target.parent / "parts", ignore_errors=True)
    return FileResponse(
        target,
        media_type="application/zip",
        filename=filename,
        background=BackgroundTask(shutil.rmtree, target.parent, ignore_errors=True),
    )


def _links(request: Request) -> Links:
    return Links(base=str(request.base_url).rstrip("/"))


@router.get("/tasks/{task_id}/crate", response_class=FileResponse, responses=ZIP)
def task_crate(
    task_id: str, request: Request, user: CurrentUser, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> FileResponse:
    """The task as a Workflow Run RO-Crate (profile 0.5): the run as a CreateAction with the task flow and the
    resource version as its instruments, the inputs, dataset snapshot and parameters as its objects, the outputs
    (with sha256) as its results, the environment and `manifest.json`. Read as the task itself: its submitter
    gets every file; whoever reads its public view, the outputs they may read. 409 before the task succeeded,
    413 past the zip size limit."""
    reading = task_reading.readable_task(session, task_id=task_id, user=user)
    folder, target = _workspace()
    crate = CrateRequest(
        store=store, links=_links(request), folder=folder, target=target, max_bytes=settings.max_zip_bytes
    )
    try:
        write_task_crate(session, reading, reader=user, request=crate)
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return _send(target, filename=f"task-{reading.task.id[:8]}-crate.zip")


@router.get("/resources/{name:ref}/versions/{version}/crate", response_class=FileResponse, responses=ZIP)
def version_crate(
    name: str,
    version: VersionRef,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> FileResponse:
    """The version as an RO-Crate: digest, config, model card, lineage (`isBasedOn`) and its files. The files'
    bytes come only to those who may download them (not run-only) and while they fit the zip size limit;
    otherwise each is listed with its URL, size and sha256."""
    resource = resource_for(session, name=name, user=user)
    row = get_version(session, resource, version)
    folder, target = _workspace()
    crate = CrateRequest(
        store=store, links=_links(request), folder=folder, target=target, max_bytes=settings.max_zip_bytes
    )
    try:
        made = write_version_crate(session, resource, row, reader=user, request=crate)
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    if made.included and resource.visibility != "public" and user is not None:
        detail = {"version": row.number, "files": made.included, "as": "crate"}
        record_for_owner(session, actor=user, action="file.download", target=resource, detail=detail, address=address)
    return _send(target, filename=f"{resource.name}-v{row.number}-crate.zip")
