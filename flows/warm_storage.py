"""Where the warm lane's task parameters travel from the API to the warm workers: the object store.

Prefect hands a background task's parameters (here, the task id) to the task worker that receives it through
result storage; by default that is a folder under the submitter's PREFECT_HOME, which a warm worker on
another host cannot read (its run then fails with "Path … does not exist"). The object store is what every
host of a commons reaches already, so the warm lane works across hosts with nothing more to set up and no
shared disk. Objects are kept under `prefect/` (`parameters/<uuid>` and the runs' small results).

Prefect keeps the storage as a saved block (`ensure_saved`, run with the deployment by `flows.deployment`); the
block has no fields and reads the process's settings when it is used, so no credential is stored in Prefect and
the API and every worker use their own COMMONS_S3_* settings. `flows.warm_lane`'s task names it by `SLUG`.
"""

from __future__ import annotations

import re
from typing import ClassVar

import anyio.to_thread
from prefect.filesystems import WritableFileSystem

from commons.errors import InvalidInput
from commons.settings import get_settings
from commons.store import ObjectStore

BLOCK_TYPE = "model-commons-object-store"
BLOCK_NAME = "warm-lane"
SLUG = f"{BLOCK_TYPE}/{BLOCK_NAME}"
PREFIX = "prefect/"
# What Prefect names its records: "parameters/<uuid>", or a result's storage key (hex or a uuid).
SAFE_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,3}")


def object_key(path: str) -> str:
    """The object key of Prefect's record `path`; InvalidInput for anything but a short relative name."""
    if not SAFE_PATH.fullmatch(path) or ".." in path:
        raise InvalidInput(f"not a Prefect record name: {path[:80]!r}", field="path")
    return PREFIX + path


def _store() -> ObjectStore:
    return ObjectStore.from_settings(get_settings())


class ObjectStoreResults(WritableFileSystem):
    """Prefect result storage in the commons' object store (bucket and credentials from COMMONS_S3_*)."""

    _block_type_name: ClassVar[str | None] = "Model Commons object store"
    _block_type_slug: ClassVar[str | None] = BLOCK_TYPE

    # Prefect calls `a<method>` from async code and `<method>(…, _sync=True)` from sync code.
    def read_path(self, path: str, _sync: bool | None = None) -> bytes:  # type: ignore[override]
        return _store().get_bytes(object_key(path))

    def write_path(self, path: str, content: bytes, _sync: bool | None = None) -> None:  # type: ignore[override]
        _store().put_bytes(key=object_key(path), data=content)

    async def aread_path(self, path: str) -> bytes:
        return await anyio.to_thread.run_sync(self.read_path, path)

    async def awrite_path(self, path: str, content: bytes) -> None:
        await anyio.to_thread.run_sync(self.write_path, path, content)


def ensure_saved(prefect_api_url: str) -> None:
    """Save the block (no fields, so nothing secret) on the Prefect server at `prefect_api_url`; idempotent."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_api_url}):
        ObjectStoreResults().save(BLOCK_NAME, overwrite=True)
