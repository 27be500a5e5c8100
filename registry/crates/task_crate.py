"""A task as a Workflow Run RO-Crate (https://w3id.org/ro/wfrun/workflow/0.5): the run as a CreateAction whose
instrument is the task flow (the crate's main entity) and the resource version it ran, whose objects are the
input photos, the dataset snapshot and the parameters, whose results are the outputs; with its agent, times,
environment, and the task's `manifest.json` inside.

Read with the same rights as the task's public view (`registry.task_reading`): its submitter gets every file;
whoever may reproduce a succeeded training gets the outputs they may read (`registry.task_outputs_zip`), the
snapshot only if they may read its dataset, never the input photos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rocrate.model.entity import Entity
from rocrate.rocrate import ROCrate
from sqlmodel import Session

from registry.clock import as_utc
from registry.crates import run_parts
from registry.crates.packing import CrateRequest, check_total, fetch, fetch_record, write_zip
from registry.crates.run_inputs import add_inputs
from registry.crates.run_objects import Placed, Ran, add_version
from registry.crates.run_outputs import add_outputs
from registry.crates.terms import PROCESS_RUN_CRATE, WORKFLOW_RUN_CRATE, conform_to, new_crate
from registry.models import Resource, ResourceVersion, User
from registry.rights import access
from registry.task_outputs_zip import zip_entries
from registry.task_reading import Reading
from registry.views.tasks import task_view


def write_task_crate(session: Session, reading: Reading, *, reader: User, request: CrateRequest) -> Path:
    """The task's crate as a zip at `request.target`; Conflict before it succeeded, TooLarge past the limit."""
    task = reading.task
    public = task_view(session, task, store=request.store, expires_seconds=60, reader=reader)
    entries = zip_entries(task, public.outputs)
    manifest = fetch_record(
        request.store,
        key=str(task.manifest_key),
        target=request.folder / "manifest.json",
        what=f"the manifest of task {task.id}",
    )
    ran = _ran(session, reading, reader)
    crate = _crate(task_id=task.id, mode=task.mode, ran=ran, manifest=manifest)
    workflow = run_parts.add_workflow(
        crate, folder=request.folder, kind=ran.kind if ran else "dataset", mode=task.mode, manifest=manifest
    )
    placed = Placed(paths={"manifest.json", "workflow.json"})
    objects = add_inputs(
        session, crate, workflow, placed, reading=reading, reader=reader, manifest=manifest, request=request
    )
    results = add_outputs(
        crate, workflow, placed, task=task, shown=public.outputs, entries=entries, folder=request.folder
    )
    check_total(
        placed.parts, already=_folder_size(request.folder), max_bytes=request.max_bytes, what=f"task {task.id}'s crate"
    )
    action = _action(crate, workflow, reading=reading, manifest=manifest, objects=objects, results=results)
    if ran is not None:
        action.append_to("instrument", add_version(crate, ran, request.links))
    crate.add_file(
        source=request.folder / "manifest.json",
        dest_path="manifest.json",
        properties={
            "name": "The task's manifest (model-commons/manifest/1)",
            "encodingFormat": "application/json",
            "about": action,
        },
    )
    for part in placed.parts:
        fetch(request.store, part, folder=request.folder)
    return write_zip(crate, request.target)


def _ran(session: Session, reading: Reading, reader: User) -> Ran | None:
    task = reading.task
    resource = session.get(Resource, task.resource_id) if task.resource_id else None
    version = session.get(ResourceVersion, task.version_id) if task.version_id else None
    if resource is None or version is None:
        return None
    owner = session.get(User, resource.owner_id)
    sees = not reading.public or access(session, resource, reader).visible
    if not sees or owner is None:
        return Ran(owner="", name="", number=version.number, digest=version.digest, kind=resource.kind)
    return Ran(
        owner=owner.username,
        name=resource.name,
        number=version.number,
        digest=version.digest,
        kind=resource.kind,
        files=list(version.files),
    )


def _crate(*, task_id: str, mode: str, ran: Ran | None, manifest: dict[str, Any]) -> ROCrate:
    model = f"{ran.owner}/{ran.name} v{ran.number}" if ran is not None and ran.owner else "a dataset"
    crate = new_crate(
        name=f"Task {task_id}: {mode} with {model}",
        description=f"A {mode} task of the Model Commons run on {model}: the run, its inputs, parameters, "
        "environment and outputs with their sha256, and the task's manifest.",
        license_name="",
    )
    published = (manifest.get("task") or {}).get("published_at")
    if isinstance(published, str):
        crate.root_dataset["datePublished"] = published
    conform_to(crate, {PROCESS_RUN_CRATE: "Process Run Crate", WORKFLOW_RUN_CRATE: "Workflow Run Crate"})
    return crate


def _action(
    crate: ROCrate,
    workflow: Entity,
    *,
    reading: Reading,
    manifest: dict[str, Any],
    objects: list[Entity],
    results: list[Entity],
) -> Entity:
    task = reading.task
    submitter = str((manifest.get("task") or {}).get("submitted_by") or "")
    properties: dict[str, Any] = {
        "@type": "CreateAction",
        "name": f"Run of task {task.id}",
        "description": f"The {task.mode} task {task.id}, run as a Prefect flow on the {task.lane} lane.",
        "identifier": task.id,
        "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"},
        "environment": run_parts.add_environment(crate, manifest),
    }
    for name, moment in (("startTime", task.started_at), ("endTime", task.finished_at)):
        if moment is not None:
            properties[name] = (as_utc(moment) or moment).isoformat()
    if submitter:
        properties["agent"] = run_parts.add_agent(crate, submitter)
    action = crate.add_action(
        workflow,
        identifier=f"#run-{task.id}",
        object=[*objects, *run_parts.add_parameters(crate, workflow, manifest)],
        result=results,
        properties=properties,
    )
    crate.root_dataset.append_to("mentions", action)
    return action


def _folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
