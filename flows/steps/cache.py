"""A content-addressed local cache of weights and inputs, verified by sha256 on the way in."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from commons.errors import DigestMismatch
from commons.hashing import sha256_file
from commons.store import ObjectStore


@dataclass(frozen=True)
class CachedFile:
    path: Path
    sha256: str
    size: int
    hit: bool


class ContentCache:
    """Files under `root/ab/<sha256>/<name>`: addressed by content, keeping the name (and so the format).

    A file is only ever added after its sha256 has been verified.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str, name: str) -> Path:
        return self.root / sha256[:2] / sha256 / name

    def fetch(self, *, store: ObjectStore, key: str, name: str, sha256: str, size: int) -> CachedFile:
        target = self.path_for(sha256, name)
        if target.is_file() and target.stat().st_size == size:
            return CachedFile(path=target, sha256=sha256, size=size, hit=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        os.close(handle)
        partial = Path(temporary)
        try:
            store.download(key=key, path=partial)
            actual = sha256_file(partial)
            if actual != sha256:
                raise DigestMismatch(
                    f"{key}: the stored file's sha256 is {actual}, the registry expects {sha256}; the object store "
                    "copy is corrupt — upload the version again"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return CachedFile(path=target, sha256=sha256, size=size, hit=False)
