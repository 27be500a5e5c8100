"""What a task read and made, as entities of its crate: the version it ran (the instrument, with its digest
and files), the input photos and the dataset snapshot (objects), the outputs (results, with sha256).

A file is put in the crate only when its reader may have it (the rule of the outputs zip,
`registry.task_outputs_zip`, and of the task's public view); otherwise it is still listed, by sha256 and size,
with the reason it is not included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rocrate.model.contextentity import ContextEntity
from rocrate.model.entity import Entity
from rocrate.rocrate import ROCrate

from registry.crates.packing import Part
from registry.crates.terms import Links, clip, file_properties, fresh_id, safe_part


@dataclass(frozen=True)
class Ran:
    """The version a task ran, as its reader may see it (`owner` empty: they may not read it)."""

    owner: str
    name: str
    number: int
    digest: str
    kind: str
    files: list[dict[str, Any]] = field(default_factory=list)


def add_version(crate: ROCrate, ran: Ran, links: Links) -> Entity:
    """The instrument: the resource version as a SoftwareApplication, its weight files as web-based File entities
    (their URL is the API's download route, which applies the download policy), never their bytes."""
    if not ran.owner:
        hidden = {"@type": "SoftwareApplication", "name": "A model version you may not read", "identifier": ran.digest}
        return crate.add(ContextEntity(crate, "#model", properties=hidden))
    url = links.version(ran.owner, ran.name, ran.number)
    parts = []
    for entry in ran.files:
        file_url = links.version_file(ran.owner, ran.name, ran.number, str(entry["name"]))
        described = file_properties(
            name=str(entry["name"]), size=int(entry["size"]), sha256=str(entry["sha256"]), media_type=None
        )
        described["description"] = "A weights file of the version (not included: fetch it from its URL)."
        parts.append(crate.add_file(source=file_url, properties=described))
    properties: dict[str, Any] = {
        "@type": "SoftwareApplication",
        "name": f"{ran.owner}/{ran.name} v{ran.number}",
        "softwareVersion": str(ran.number),
        "identifier": ran.digest,
        "applicationCategory": ran.kind,
        "url": url,
        "hasPart": parts,
    }
    return crate.add(ContextEntity(crate, url, properties=properties))


@dataclass
class Placed:
    """The crate paths taken so far, and the parts to fetch into them."""

    parts: list[Part] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)

    def place(self, wanted: str) -> str:
        path, count = wanted, 1
        while path in self.paths:
            count += 1
            stem, dot, suffix = wanted.rpartition(".")
            path = f"{stem}-{count}.{suffix}" if dot and "/" not in suffix else f"{wanted}-{count}"
        self.paths.add(path)
        return path


def crate_path(folder: str, name: str) -> str:
    """An output or input name as a crate path under `folder`, each segment made safe."""
    segments = [
        safe_part(part, fallback="file") for part in name.replace("\\", "/").split("/") if part not in ("", ".", "..")
    ]
    return "/".join([folder, *segments]) if segments else f"{folder}/file"


def add_file(
    crate: ROCrate, placed: Placed, *, folder: Path, path: str, key: str, properties: dict[str, Any]
) -> Entity:
    """A File entity at `path` whose bytes (object `key`) are fetched into `folder` before the crate is written."""
    placed.parts.append(Part(path=path, key=key, size=int(properties["contentSize"])))
    return crate.add_file(source=folder.joinpath(*path.split("/")), dest_path=path, properties=properties)


def listed_only(crate: ROCrate, *, ident: str, properties: dict[str, Any], why: str) -> Entity:
    """A file named in the crate by its digest and size but not included, with the reason."""
    listed = {**properties, "@type": "CreativeWork", "description": clip(why)}
    return crate.add(ContextEntity(crate, fresh_id(crate, ident), properties=listed))
