"""Immutable resource versions: number allocation under concurrency, file storage, digests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from commons.db import insert_unless_taken
from commons.errors import Conflict, DigestMismatch, InvalidInput, InvalidWeights, NotFound
from commons.hashing import sha256_json
from commons.store import ObjectStore, keys
from registry.models import Resource, ResourceVersion, User
from registry.resources import latest_version_number
from registry.schemas import MAX_VERSION, ExecutionSpec
from registry.webhooks import events as webhook_events

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
NUMBER_ATTEMPTS = 8


@dataclass(frozen=True)
class StagedFile:
    """A file received and hashed into a local temporary path, not yet stored."""

    name: str
    path: Path
    size: int
    sha256: str


def version_digest(files: list[dict[str, Any]], config: dict[str, Any]) -> str:
    """sha256 of the canonical (sorted) file list and the config."""
    listing = sorted(
        ({"name": f["name"], "sha256": f["sha256"], "size": f["size"]} for f in files), key=lambda f: f["name"]
    )
    return "sha256:" + sha256_json({"files": listing, "config": config})


def check_files(files: list[StagedFile], declared_sha256: dict[str, str] | None, *, required_file: str | None) -> None:
    """File names are plain and unique, the file the config needs is there, declared digests match.

    `required_file=None` admits an architecture-only version (a config whose weights come from a seed).
    """
    names = [f.name for f in files]
    for name in names:
        if not FILE_NAME.match(name) or ".." in name:
            raise InvalidInput(
                f"file name {name!r} is not allowed: use letters, digits, '.', '_' and '-' (no folders)",
                field="files",
            )
    if len(set(names)) != len(names):
        raise InvalidInput("two files have the same name; each file in a version needs its own", field="files")
    if required_file is not None and required_file not in names:
        raise InvalidWeights(
            f"config.checkpoint names {required_file!r}, which is not among the uploaded files "
            f"({', '.join(names) or 'none were uploaded'})",
            field="config.checkpoint",
        )
    for name, expected in (declared_sha256 or {}).items():
        match = next((f for f in files if f.name == name), None)
        if match is None:
            raise InvalidInput(f"sha256 declared for {name!r}, which was not uploaded", field="sha256")
        if match.sha256 != expected.lower().removeprefix("sha256:"):
            raise DigestMismatch(
                f"{name}: sha256 is {match.sha256}, but {expected} was declared; the file is corrupt or not "
                "the one you meant — upload it again",
                field="sha256",
            )


def get_version(session: Session, resource: Resource, version: int | str) -> ResourceVersion:
    number: int | None
    if version == "latest":
        number = latest_version_number(session, resource.id)
        if number is None:
            raise NotFound(f"{resource.name!r} has no versions yet; upload one first")
    else:
        try:
            number = int(version)
        except ValueError as error:
            raise InvalidInput(f"version must be a number or 'latest', not {version!r}", field="version") from error
        if not 1 <= number <= MAX_VERSION:
            raise InvalidInput(f"version must be between 1 and {MAX_VERSION}, not {number}", field="version")
    found = session.exec(
        select(ResourceVersion).where(ResourceVersion.resource_id == resource.id, ResourceVersion.number == number)
    ).first()
    if found is None:
        raise NotFound(f"{resource.name!r} has no version {number}")
    return found


def create_version(
    session: Session,
    *,
    store: ObjectStore,
    resource: Resource,
    actor: User,
    files: list[StagedFile],
    config: dict[str, Any],
    declared_sha256: dict[str, str] | None,
    parent: int | ResourceVersion | None,
    reported_metrics: dict[str, Any] | None,
    required_file: str | None,
    provenance: dict[str, Any] | None = None,
    execution: ExecutionSpec | None = None,
) -> ResourceVersion:
    """Store the files under the next free version number and record the version.

    `parent` is a version number of this resource, or a version row of any resource (a model trained
    from another resource's version keeps its lineage across resources).

    The number is max+1; a concurrent upload that took the same number makes the insert fail on the
    unique (resource, number) constraint, and the allocation is retried with the next number.

    The files go to the object store first, under content-addressed keys (`store_files`), and only then does
    the write transaction open: on SQLite one writer holds the database at a time, so a 1 GB upload inside
    it would make every other write wait (and fail past the busy timeout). The row is never visible before
    its files are stored. An insert that fails leaves its objects behind, unreferenced and harmless: no row
    names them, and the same file uploaded again to this resource lands on the same key. They are not
    deleted, since a concurrent version of the same resource with the same file may name that very key.
    """
    check_files(files, declared_sha256, required_file=required_file)
    parent_id = _parent_id(session, resource, parent)
    listing = store_files(store, resource_id=resource.id, files=files)
    digest = version_digest(listing, config)
    _lock_numbering(session, resource.id)
    for _ in range(NUMBER_ATTEMPTS):
        number = (latest_version_number(session, resource.id) or 0) + 1
        row = ResourceVersion(
            resource_id=resource.id,
            number=number,
            digest=digest,
            config=config,
            files=listing,
            parent_id=parent_id,
            reported_metrics=reported_metrics,
            provenance=provenance,
            execution=execution.model_dump(mode="json", exclude_none=True) if execution else None,
            created_by=actor.id,
        )
        if insert_unless_taken(session, row):
            webhook_events.version_created(session, resource, row, actor)
            return row
    raise Conflict("too many concurrent uploads to this resource; retry in a moment")


def _parent_id(session: Session, resource: Resource, parent: int | ResourceVersion | None) -> str | None:
    """The id of a new version's parent: a version row as given, or this resource's version by number."""
    if isinstance(parent, ResourceVersion):
        return parent.id
    return get_version(session, resource, parent).id if parent is not None else None


def store_files(store: ObjectStore, *, resource_id: str, files: list[StagedFile]) -> list[dict[str, Any]]:
    """Put each file at its content-addressed key (no version number needed yet); returns the version's
    file listing, each entry naming its key."""
    listing = []
    for staged in files:
        key = keys.version_blob(resource_id, staged.sha256, staged.name)
        store.put_file(key=key, path=staged.path)
        listing.append({"name": staged.name, "size": staged.size, "sha256": staged.sha256, "key": key})
    return listing


def file_key(resource_id: str, number: int, entry: dict[str, Any]) -> str:
    """The object key of one file of a version: the content-addressed key its entry names, or, for a version
    stored before files were content-addressed, the key by version number."""
    key = entry.get("key")
    return str(key) if key else keys.version_file(resource_id, number, str(entry["name"]))


def _lock_numbering(session: Session, resource_id: str) -> None:
    """Open the write transaction now and hold the resource's row until it ends (a no-op UPDATE).

    PostgreSQL locks the row, so concurrent publishes to one resource take numbers one after the other.
    pysqlite begins a transaction only at the first write: without this, the savepoint below would be
    the outermost transaction and its release would commit the version on its own, before the caller's
    other writes (a publish retried after a conflict on the task row then made a second version).
    """
    session.execute(update(Resource).where(col(Resource.id) == resource_id).values(id=Resource.id))


def execution_of(session: Session, *, version_id: str) -> ExecutionSpec | None:
    """The execution spec a version declared (inherited by trained copies), or None."""
    row = session.get(ResourceVersion, version_id)
    return ExecutionSpec.model_validate(row.execution) if row is not None and row.execution else None


def versions_of(session: Session, resource: Resource) -> list[ResourceVersion]:
    """The resource's versions, oldest first."""
    query = select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)
    return list(session.exec(query.order_by(col(ResourceVersion.number))))
