"""A task's results in its crate: every output with its sha256 and size, its bytes included when its reader
may have them (the entries of the outputs zip), otherwise listed with the reason it is withheld."""

from __future__ import annotations

from pathlib import Path

from rocrate.model.entity import Entity
from rocrate.rocrate import ROCrate

from registry.crates.run_objects import Placed, add_file, crate_path, listed_only
from registry.crates.run_parts import example, formal_parameter
from registry.crates.terms import file_properties, safe_part
from registry.models import Task
from registry.schemas import OutputPublic
from registry.task_outputs_zip import ZipEntry


def add_outputs(
    crate: ROCrate,
    workflow: Entity,
    placed: Placed,
    *,
    task: Task,
    shown: list[OutputPublic],
    entries: list[ZipEntry],
    folder: Path,
) -> list[Entity]:
    offered = {entry.key for entry in entries}
    media = {str(o.get("name")): str(o.get("content_type") or "") for o in task.outputs}
    reasons = {o.name: o.withheld for o in shown}
    results = []
    for output in task.outputs:
        name, key = str(output["name"]), str(output["key"])
        properties = file_properties(
            name=name, size=int(output["size"]), sha256=str(output["sha256"]), media_type=media.get(name) or None
        )
        if key not in offered:
            why = reasons.get(name) or "Not offered to you."
            results.append(
                listed_only(
                    crate, ident=f"#withheld-{safe_part(name, fallback='output')}", properties=properties, why=why
                )
            )
            continue
        path = placed.place(crate_path("outputs", name))
        entity = add_file(crate, placed, folder=folder, path=path, key=key, properties=properties)
        parameter = formal_parameter(
            crate, workflow, ident=f"#output-{path.removeprefix('outputs/')}", name=name, kind="File", output=True
        )
        example(parameter, entity)
        results.append(entity)
    return results
