"""A task's objects in its crate: the input photos (to its submitter only) and the dataset snapshot (to its
submitter, and to a reader of its public view who may read the dataset), each with its sha256."""

from __future__ import annotations

from typing import Any

from rocrate.model.entity import Entity
from rocrate.rocrate import ROCrate
from sqlmodel import Session

from commons.store import keys
from registry.crates.packing import CrateRequest, fetch_record
from registry.crates.run_objects import Placed, add_file, crate_path, listed_only
from registry.crates.run_parts import example, formal_parameter
from registry.crates.terms import file_properties, mapping
from registry.dataset_snapshots import SNAPSHOT_NAME
from registry.models import Dataset, Upload, User
from registry.rights import access
from registry.task_reading import Reading


def add_inputs(
    session: Session,
    crate: ROCrate,
    workflow: Entity,
    placed: Placed,
    *,
    reading: Reading,
    reader: User,
    manifest: dict[str, Any],
    request: CrateRequest,
) -> list[Entity]:
    objects = _photos(session, crate, workflow, placed, reading=reading, manifest=manifest, request=request)
    snapshot = _snapshot(session, crate, workflow, reading=reading, reader=reader, manifest=manifest, request=request)
    return [*objects, *([snapshot] if snapshot is not None else [])]


def _photos(
    session: Session,
    crate: ROCrate,
    workflow: Entity,
    placed: Placed,
    *,
    reading: Reading,
    manifest: dict[str, Any],
    request: CrateRequest,
) -> list[Entity]:
    inputs = [i for i in manifest.get("inputs", []) if isinstance(i, dict)]
    if not inputs:
        return []
    parameter = formal_parameter(crate, workflow, ident="#input-photos", name="photos", kind="File", output=False)
    found = []
    for index, record in enumerate(inputs, start=1):
        upload_id, name = str(record.get("upload_id")), str(record.get("name"))
        properties = file_properties(
            name=name if not reading.public else f"photo {index}",
            size=int(record.get("size", 0)),
            sha256=str(record.get("sha256")),
            media_type=None,
        )
        upload = session.get(Upload, upload_id)
        kept = (
            upload is not None
            and upload.owner_id == reading.task.owner_id
            and request.store.exists(keys.upload(upload_id))
        )
        if reading.public or not kept:
            why = "The submitter's own photo: not shared." if reading.public else "The photo was deleted since."
            found.append(listed_only(crate, ident=f"#input-{index}", properties=properties, why=why))
            continue
        path = placed.place(crate_path("inputs", f"{upload_id}/{name}"))
        properties["encodingFormat"] = upload.content_type if upload is not None else "application/octet-stream"
        entity = add_file(
            crate, placed, folder=request.folder, path=path, key=keys.upload(upload_id), properties=properties
        )
        example(parameter, entity)
        found.append(entity)
    return found


def _snapshot(
    session: Session,
    crate: ROCrate,
    workflow: Entity,
    *,
    reading: Reading,
    reader: User,
    manifest: dict[str, Any],
    request: CrateRequest,
) -> Entity | None:
    task = reading.task
    if not task.dataset_id:
        return None
    described = mapping(manifest.get("dataset"))
    dataset = session.get(Dataset, task.dataset_id)
    sees = not reading.public or (dataset is not None and access(session, dataset, reader).visible)
    digest = str(task.dataset_digest or described.get("digest") or "")
    name = str(described.get("name") or (dataset.name if dataset else "the dataset"))
    key = keys.task_input(task.id, SNAPSHOT_NAME)
    if not sees or not request.store.exists(key):
        properties = {"name": "The dataset snapshot", "identifier": digest}
        if sees:
            why = "The snapshot is no longer stored; its digest identifies it."
            return listed_only(crate, ident="#dataset-snapshot", properties=properties, why=why)
        return listed_only(
            crate, ident="#dataset-snapshot", properties=properties, why="You may not read the task's dataset."
        )
    path = "inputs/dataset.json"
    target = request.folder / "inputs" / "dataset.json"
    fetch_record(
        request.store,
        key=key,
        target=target,
        what=f"the dataset snapshot of task {task.id}",
    )
    parameter = formal_parameter(crate, workflow, ident="#input-dataset", name="dataset", kind="File", output=False)
    entity = crate.add_file(
        source=target,
        dest_path=path,
        properties={
            "name": f"Dataset snapshot: {name}",
            "description": "The dataset as frozen for this task: its classes and every item with its sha256 and label.",
            "identifier": digest,
            "encodingFormat": "application/json",
            "contentSize": str(target.stat().st_size),
        },
    )
    example(parameter, entity)
    return entity
