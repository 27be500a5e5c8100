"""A resource version as an RO-Crate: the version is the crate (its digest, number, licence, citation and
maker), with its files, its config, its public record (`version.json`), its model card (`card.md`) and its
lineage as `isBasedOn`: the version it was made from and every source it derives from.

Files travel in the crate only to those who may download them (`registry.rights.download`: not run-only, not
a bound derivative's maker without `use`) and only while their total fits the crate limit; otherwise each is
listed as a web-based entity (the API's download route, which applies the same policy) with its sha256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate
from sqlmodel import Session

from registry.clock import as_utc
from registry.crates.lineage import add_lineage
from registry.crates.packing import CrateRequest, Part, fetch, write_text, write_zip
from registry.crates.run_objects import crate_path
from registry.crates.terms import clip, file_properties, new_crate
from registry.models import Resource, ResourceVersion, User
from registry.rights import access, may_download
from registry.versions import file_key
from registry.views.versions import version_view


@dataclass(frozen=True)
class VersionCrate:
    """The zip, and the names of the weight files it carries (for the audit of downloads)."""

    path: Path
    included: list[str]


def write_version_crate(
    session: Session, resource: Resource, row: ResourceVersion, *, reader: User | None, request: CrateRequest
) -> VersionCrate:
    owner = session.get(User, resource.owner_id)
    owner_name = owner.username if owner else ""
    crate = new_crate(
        name=f"{owner_name}/{resource.name} v{row.number}: {resource.title}",
        description=resource.description.strip() or resource.title,
        license_name=resource.license,
    )
    root = crate.root_dataset
    root["identifier"] = row.digest
    root["version"] = str(row.number)
    root["url"] = request.links.version(owner_name, resource.name, row.number)
    root["datePublished"] = (as_utc(row.created_at) or row.created_at).isoformat()
    if resource.citation.strip():
        root["citation"] = clip(resource.citation.strip())
    if owner is not None:
        person = crate.add(
            ContextEntity(crate, f"#user-{owner.id}", properties={"@type": "Person", "name": owner_name})
        )
        root["author"] = person
    _records(crate, resource, row, session=session, folder=request.folder)
    included = _files(crate, resource, row, session=session, reader=reader, owner=owner_name, request=request)
    add_lineage(crate, session, resource, row, reader=reader, links=request.links)
    return VersionCrate(path=write_zip(crate, request.target), included=included)


def _records(crate: ROCrate, resource: Resource, row: ResourceVersion, *, session: Session, folder: Path) -> None:
    """`config.json`, `version.json` (the version as the API describes it) and, when written, `card.md`."""
    public = version_view(session, resource, row).model_dump(mode="json")
    texts: list[tuple[str, str, str, str]] = [
        ("config.json", json.dumps(row.config, indent=2), "application/json", "The version's config."),
        ("version.json", json.dumps(public, indent=2), "application/json", "The version as the API describes it."),
    ]
    if row.card.strip():
        texts.append(("card.md", row.card, "text/markdown", "The version's model card (Markdown)."))
    for path, text, media, about in texts:
        source = write_text(folder, path, text)
        crate.add_file(
            source=source,
            dest_path=path,
            properties={
                "name": path,
                "description": about,
                "encodingFormat": media,
                "contentSize": str(source.stat().st_size),
                "about": crate.root_dataset,
            },
        )


def _files(
    crate: ROCrate,
    resource: Resource,
    row: ResourceVersion,
    *,
    session: Session,
    reader: User | None,
    owner: str,
    request: CrateRequest,
) -> list[str]:
    """The weight files: their bytes when the reader may download them and they fit; else their URLs."""
    total = sum(int(entry["size"]) for entry in row.files)
    allowed = may_download(session, resource, reader) and not access(session, resource, reader).blocked_by
    fits = total <= request.max_bytes
    included = []
    for entry in row.files:
        name = str(entry["name"])
        properties = file_properties(name=name, size=int(entry["size"]), sha256=str(entry["sha256"]), media_type=None)
        if allowed and fits:
            part = Part(
                path=crate_path("files", name), key=file_key(resource.id, row.number, entry), size=int(entry["size"])
            )
            crate.add_file(
                source=fetch(request.store, part, folder=request.folder), dest_path=part.path, properties=properties
            )
            included.append(name)
            continue
        why = _why_not(allowed=allowed, total=total, limit=request.max_bytes)
        url = request.links.version_file(owner, resource.name, row.number, name)
        crate.add_file(source=url, properties={**properties, "description": why})
    return included


def _why_not(*, allowed: bool, total: int, limit: int) -> str:
    if not allowed:
        return "Not included: the model, or one it was made from, is run-only or not yours to download."
    return (
        f"Not included: the files come to {total} bytes, more than the {limit} one crate may carry; "
        "fetch it from its URL."
    )
