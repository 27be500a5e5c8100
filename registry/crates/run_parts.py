"""The parts of a task's crate that describe how it ran: the task flow as a workflow with its formal
parameters, the parameters' values, the environment, the submitter.

The workflow is the commons' task flow (a Prefect flow: prepare, the kind's runner for the mode, publish) for
one kind and mode; `workflow.json` says so in a few lines, and is the crate's main entity as Workflow RO-Crate
asks. Every parameter is a FormalParameter of the workflow and a PropertyValue of the run, each pointing at
the other (`workExample` / `exampleOfWork`), as Workflow Run Crate describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from rocrate.model.computerlanguage import ComputerLanguage
from rocrate.model.contextentity import ContextEntity
from rocrate.model.entity import Entity
from rocrate.rocrate import ROCrate

from registry.crates.packing import write_text
from registry.crates.terms import clip, fresh_id, mapping, safe_part, scalar

MAX_PARAMETERS: Final = 200
MAX_ENVIRONMENT: Final = 200
PREFECT: Final = "https://www.prefect.io/"


def add_workflow(crate: ROCrate, *, folder: Path, kind: str, mode: str, manifest: dict[str, Any]) -> Entity:
    """`workflow.json`, the crate's main entity: the commons task flow for this kind and mode."""
    packages = _packages(manifest)
    steps = [str(step.get("name")) for step in manifest.get("steps", []) if isinstance(step, dict)]
    description = {
        "flow": "run-task",
        "engine": "prefect",
        "kind": kind,
        "mode": mode,
        "steps": steps[:MAX_PARAMETERS],
        "commons": packages.get("model-commons"),
    }
    source = write_text(folder, "workflow.json", json.dumps(description, indent=2))
    language = crate.add(
        ComputerLanguage(
            crate,
            "#prefect",
            properties={
                "name": "Prefect",
                "url": {"@id": PREFECT},
                **({"version": packages["prefect"]} if packages.get("prefect") else {}),
            },
        )
    )
    return crate.add_workflow(
        source=source,
        dest_path="workflow.json",
        main=True,
        lang=language,
        properties={
            "name": f"Model Commons task flow: {kind} {mode}",
            "description": "The commons' task flow: prepare (inputs and weights fetched and checked by sha256), "
            f"the {kind} runner for {mode}, publish (outputs, then the manifest).",
            "encodingFormat": "application/json",
            **({"version": packages["model-commons"]} if packages.get("model-commons") else {}),
        },
    )


def _packages(manifest: dict[str, Any]) -> dict[str, str]:
    environment = manifest.get("environment")
    packages = environment.get("packages") if isinstance(environment, dict) else None
    return {str(k): str(v) for k, v in packages.items()} if isinstance(packages, dict) else {}


def formal_parameter(crate: ROCrate, workflow: Entity, *, ident: str, name: str, kind: str, output: bool) -> Entity:
    """A FormalParameter of the workflow (`kind`: the additionalType: Text, Integer, File, Dataset …)."""
    parameter = crate.add_formal_parameter(name=clip(name), additionalType=kind, identifier=ident)
    workflow.append_to("output" if output else "input", parameter)
    return parameter


def example(parameter: Entity, value: Entity) -> None:
    """Link a FormalParameter and what the run gave it, both ways."""
    parameter.append_to("workExample", value)
    value.append_to("exampleOfWork", parameter)


def add_parameters(crate: ROCrate, workflow: Entity, manifest: dict[str, Any]) -> list[Entity]:
    """The task's parameters (and its seed) as PropertyValues of the run, each an example of a FormalParameter."""
    params = mapping(manifest.get("params"))
    values = dict(list(params.items())[:MAX_PARAMETERS])
    if "seed" in manifest and "seed" not in values:
        values["seed"] = manifest["seed"]
    found = []
    for key, value in values.items():
        ident = fresh_id(crate, f"#param-{safe_part(str(key), fallback='parameter')}")
        parameter = formal_parameter(crate, workflow, ident=ident, name=str(key), kind=_type_of(value), output=False)
        properties = {"@type": "PropertyValue", "name": clip(str(key)), "value": scalar(value)}
        shown = crate.add(ContextEntity(crate, fresh_id(crate, f"#value-{ident[7:]}"), properties=properties))
        example(parameter, shown)
        found.append(shown)
    return found


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    return "Text"


def add_environment(crate: ROCrate, manifest: dict[str, Any]) -> list[Entity]:
    """What the task ran on (Python, platform, torch, device, package versions …) as PropertyValues."""
    environment = mapping(manifest.get("environment"))
    flat: dict[str, Any] = {}
    for key, value in environment.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": item for inner, item in value.items()})
        else:
            flat[str(key)] = value
    entities = []
    for key, value in list(flat.items())[:MAX_ENVIRONMENT]:
        properties = {"@type": "PropertyValue", "name": clip(key), "value": scalar(value)}
        ident = fresh_id(crate, f"#env-{safe_part(key, fallback='value')}")
        entities.append(crate.add(ContextEntity(crate, ident, properties=properties)))
    return entities


def add_agent(crate: ROCrate, username: str) -> Entity:
    ident = f"#user-{safe_part(username, fallback='user')}"
    return crate.add(ContextEntity(crate, ident, properties={"@type": "Person", "name": username}))
