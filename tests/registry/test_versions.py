"""Versions: files in the object store, digests, declared sha256, numbering under concurrent uploads."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from commons.db import get_engine
from commons.errors import DigestMismatch, InvalidInput, InvalidWeights, NotFound
from commons.store import ObjectStore
from registry.models import Resource, ResourceVersion, User
from registry.resources import create_resource
from registry.schemas import ResourceCreate
from registry.users import create_user
from registry.versions import StagedFile, create_version, file_key, get_version, version_digest

CONFIG = {"arch": "custom", "checkpoint": "w.safetensors"}


def staged(folder: Path, name: str, data: bytes) -> StagedFile:
    path = folder / f"{name}-{hashlib.sha256(data).hexdigest()[:8]}"
    path.write_bytes(data)
    return StagedFile(name=name, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def add_version(
    session: Session, store: ObjectStore, owner: User, resource: Resource, files: list[StagedFile], **overrides: Any
) -> ResourceVersion:
    """`create_version` of `files` by `owner`, with this file's defaults unless overridden: CONFIG, its weights
    file required, no declared sha256, no parent, no reported metrics."""
    defaults: dict[str, Any] = {
        "config": CONFIG,
        "required_file": "w.safetensors",
        "declared_sha256": None,
        "parent": None,
        "reported_metrics": None,
    }
    return create_version(session, store=store, resource=resource, actor=owner, files=files, **(defaults | overrides))


def setup_resource(database_url: str, name: str = "sam"):
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        resource = create_resource(
            session, owner=owner, spec=ResourceCreate(name=name, kind="segmenter.sam", title="SAM")
        )
        session.commit()
        return owner, resource


def test_version_files_digest_and_lineage(database_url: str, store: ObjectStore, tmp_path: Path) -> None:
    owner, resource = setup_resource(database_url)
    weights = staged(tmp_path, "w.safetensors", b"weights-one")
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        first = add_version(
            session, store, owner, resource, [weights], declared_sha256={"w.safetensors": weights.sha256}
        )
        two = staged(tmp_path, "w.safetensors", b"weights-two")
        second = add_version(session, store, owner, resource, [two], parent=1, reported_metrics={"mIoU": 0.71})
        session.commit()
        assert (first.number, second.number) == (1, 2)
        assert second.parent_id == first.id
        assert get_version(session, resource, "latest").number == 2
        with pytest.raises(NotFound, match="no version 7"):
            get_version(session, resource, 7)
    assert store.get_bytes(file_key(resource.id, 1, first.files[0])) == b"weights-one"
    assert first.digest == version_digest(first.files, CONFIG)
    assert first.digest != second.digest
    assert first.digest == version_digest(list(reversed(first.files)), dict(reversed(list(CONFIG.items()))))


def test_declared_sha256_and_file_names_are_checked(database_url: str, store: ObjectStore, tmp_path: Path) -> None:
    owner, resource = setup_resource(database_url, name="checked")
    weights = staged(tmp_path, "w.safetensors", b"weights")
    with Session(get_engine(database_url)) as session:
        with pytest.raises(DigestMismatch, match=r"sha256 is .* but 0000 was declared"):
            add_version(session, store, owner, resource, [weights], declared_sha256={"w.safetensors": "0000"})
        with pytest.raises(InvalidInput, match="not allowed"):
            add_version(session, store, owner, resource, [staged(tmp_path, "../evil", b"x")])
        with pytest.raises(InvalidInput, match="not uploaded"):
            add_version(session, store, owner, resource, [weights], declared_sha256={"other.pth": "ab"})
    assert list(store.list_keys(f"resources/{resource.id}/")) == []


def test_concurrent_uploads_get_distinct_numbers(database_url: str, store: ObjectStore, tmp_path: Path) -> None:
    owner, resource = setup_resource(database_url, name="busy")
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def upload(index: int) -> None:
        try:
            start.wait()
            with Session(get_engine(database_url), expire_on_commit=False) as session:
                row = add_version(
                    session, store, owner, resource, [staged(tmp_path, "w.safetensors", f"w{index}".encode())]
                )
                session.commit()
                results.append(row.number)
        except BaseException as error:  # collected and reported below
            errors.append(error)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [1, 2, 3, 4, 5, 6]
    with Session(get_engine(database_url)) as session:
        rows = session.exec(select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)).all()
        stored = {store.get_bytes(file_key(resource.id, row.number, row.files[0])) for row in rows}
    assert len(stored) == 6


def test_architecture_only_version_and_missing_weights(database_url: str, store: ObjectStore, tmp_path: Path) -> None:
    owner, resource = setup_resource(database_url, name="arch-only")
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        row = add_version(session, store, owner, resource, [], config={"arch": "x"}, required_file=None)
        assert (row.number, row.files) == (1, [])
        with pytest.raises(InvalidWeights, match=r"'w\.safetensors', which is not among the uploaded files"):
            add_version(session, store, owner, resource, [staged(tmp_path, "other.pth", b"x")])


def test_a_version_made_in_a_transaction_that_fails_later_is_rolled_back(
    database_url: str, store: ObjectStore, tmp_path: Path
) -> None:
    """A publish makes the version and ends the task in one transaction; when a later write of that
    transaction fails (a conflict on the task row), the version must go too, or a retry makes a second one.
    On SQLite this needs the write transaction open before the numbering savepoint."""
    owner, resource = setup_resource(database_url)
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        add_version(session, store, owner, resource, [staged(tmp_path, "w.safetensors", b"weights-one")])
        session.rollback()  # what session_scope does when a later write of the transaction fails
    with Session(get_engine(database_url)) as session, pytest.raises(NotFound):
        get_version(session, resource, "latest")
