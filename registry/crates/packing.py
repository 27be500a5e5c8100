"""Bytes into a crate: objects fetched from the store one at a time into a working folder (their total checked
before the first is fetched), small records bounded as they are read, and the crate written as one zip.

`rocrate` streams each file into the zip in chunks, so memory stays flat whatever the sizes; the disk holds
the fetched files and the zip, both within the limit the caller gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from rocrate.rocrate import ROCrate

from commons.errors import InvalidInput, TooLarge
from commons.store import ObjectStore
from registry.crates.terms import Links

MAX_RECORD_BYTES: Final = 16 * 1024 * 1024  # a manifest or a dataset snapshot (20,000 items take about 5 MB)


@dataclass(frozen=True)
class CrateRequest:
    """Where a crate is made: the store, the addresses, a working folder, the zip's path and its size limit."""

    store: ObjectStore
    links: Links
    folder: Path
    target: Path
    max_bytes: int


@dataclass(frozen=True)
class Part:
    """One object of the store that goes into the crate at `path` (relative, made of safe segments)."""

    path: str
    key: str
    size: int


def check_total(parts: list[Part], *, already: int, max_bytes: int, what: str) -> None:
    """TooLarge, before anything more is fetched, when the parts and what is already in pass `max_bytes`."""
    total = already + sum(part.size for part in parts)
    if total > max_bytes:
        raise TooLarge(
            f"{what} comes to {total} bytes, more than the {max_bytes} one crate may carry; "
            "download the files one by one instead (each is listed with its URL and sha256)"
        )


def fetch(store: ObjectStore, part: Part, *, folder: Path) -> Path:
    """The part's bytes under `folder` at its crate path."""
    target = folder.joinpath(*part.path.split("/"))
    store.download(key=part.key, path=target)
    return target


def fetch_record(store: ObjectStore, *, key: str, target: Path, what: str) -> Any:
    """A JSON record of the store (a manifest, a snapshot) saved at `target` and parsed; TooLarge past
    MAX_RECORD_BYTES, InvalidInput when it is not JSON."""
    store.download(key=key, path=target)
    size = target.stat().st_size
    if size > MAX_RECORD_BYTES:
        raise TooLarge(f"{what} is {size} bytes, more than the {MAX_RECORD_BYTES} a crate reads")
    try:
        return json.loads(target.read_bytes())
    except ValueError as error:
        raise InvalidInput(f"{what} is not JSON ({error}); the crate cannot describe it") from error


def write_text(folder: Path, path: str, text: str) -> Path:
    target = folder.joinpath(*path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def write_zip(crate: ROCrate, target: Path) -> Path:
    """The crate as one zip at `target` (outside the working folder)."""
    return Path(crate.write_zip(target))
