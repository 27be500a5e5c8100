"""What every crate the commons writes shares: the RO-Crate version and profiles, the terms added to the
context, the addresses of things that stay on the server, and small builders of entity properties.

RO-Crate 1.1 is the version the Workflow Run Crate profiles (0.5) are written against; the two terms that
its context lacks (`environment` of Process Run Crate, `sha256` of schema.org) are added to the crate's
`@context` as the RO-Crate specification says to extend it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate

CRATE_VERSION: Final = "1.1"
PROCESS_RUN_CRATE: Final = "https://w3id.org/ro/wfrun/process/0.5"
WORKFLOW_RUN_CRATE: Final = "https://w3id.org/ro/wfrun/workflow/0.5"
EXTRA_TERMS: Final = {
    "environment": "https://w3id.org/ro/terms/workflow-run#environment",
    "sha256": "http://schema.org/sha256",
}
MAX_TEXT_CHARS: Final = 2000  # one property value written from a stored record (a parameter, an environment line)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Links:
    """Absolute addresses under the API the crate was asked from (`base`: scheme, host and port)."""

    base: str

    def version(self, owner: str, name: str, number: int) -> str:
        return f"{self.base}/api/v1/resources/{quote(owner)}/{quote(name)}/versions/{number}"

    def version_file(self, owner: str, name: str, number: int, file_name: str) -> str:
        return f"{self.version(owner, name, number)}/files/{quote(file_name)}"

    def resource(self, owner: str, name: str) -> str:
        return f"{self.base}/api/v1/resources/{quote(owner)}/{quote(name)}"

    def dataset(self, dataset_id: str) -> str:
        return f"{self.base}/api/v1/datasets/{quote(dataset_id)}"

    def task(self, task_id: str) -> str:
        return f"{self.base}/api/v1/tasks/{quote(task_id)}"


def new_crate(*, name: str, description: str, license_name: str) -> ROCrate:
    """An empty RO-Crate 1.1 with its name, description and licence (a contextual entity naming the licence
    as its owner wrote it, or saying none was stated)."""
    crate = ROCrate(version=CRATE_VERSION)
    crate.metadata.extra_terms.update(EXTRA_TERMS)
    root = crate.root_dataset
    root["name"] = clip(name)
    root["description"] = clip(description)
    stated = license_name.strip()
    root["license"] = crate.add(
        ContextEntity(
            crate,
            "#license",
            properties={
                "@type": "CreativeWork",
                "name": clip(stated) if stated else "No licence stated",
                "description": "The licence the model's owner gave it."
                if stated
                else "The model's owner stated no licence; ask them before reusing what this crate holds.",
            },
        )
    )
    return crate


def conform_to(crate: ROCrate, profiles: dict[str, str]) -> None:
    """Declare the profiles (URI → name) the crate follows, each a CreativeWork as the profiles ask."""
    for uri, title in profiles.items():
        entity = crate.add(ContextEntity(crate, uri, properties={"@type": "CreativeWork", "name": title}))
        crate.root_dataset.append_to("conformsTo", entity)


def safe_part(name: str, *, fallback: str) -> str:
    """A name as one path segment of a crate: letters, digits, dot, dash and underscore; never empty, never a
    dot path (upload names are the user's own)."""
    cleaned = _UNSAFE.sub("_", name).strip("._")[:120]
    return cleaned or fallback


def clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def scalar(value: Any) -> str | int | float | bool:
    """A stored value as a property value: numbers, booleans and short text as they are, anything else as text."""
    if isinstance(value, bool | int | float):
        return value
    return clip(value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))


def file_properties(*, name: str, size: int, sha256: str, media_type: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"name": clip(name), "contentSize": str(size), "sha256": sha256}
    if media_type:
        properties["encodingFormat"] = media_type
    return properties


def fresh_id(crate: ROCrate, wanted: str) -> str:
    """`wanted`, or `wanted-2`, `wanted-3` … when an entity of the crate already has it (names made safe may meet)."""
    ident, count = wanted, 1
    while crate.get(ident) is not None:
        count += 1
        ident = f"{wanted}-{count}"
    return ident


def mapping(value: Any) -> dict[str, Any]:
    """A stored JSON value that should be an object, as one (anything else reads as empty)."""
    return dict(value) if isinstance(value, dict) else {}
