"""The warm lane's parameter storage: Prefect's records in the object store, under names Prefect makes only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from commons.errors import InvalidInput
from commons.settings import Settings, get_settings
from commons.store import ObjectStore
from flows.warm_storage import ObjectStoreResults, object_key


@pytest.fixture
def store_settings(s3_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """This process's settings (which the block reads when used) pointed at the session's S3 server."""
    monkeypatch.setenv("COMMONS_S3_ENDPOINT", s3_settings.resolved_s3_endpoint)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_a_record_written_is_read_back_from_the_object_store(store_settings: Settings) -> None:
    block = ObjectStoreResults()
    name = f"parameters/{uuid.uuid4()}"
    block.write_path(name, b'{"task_id": "abc"}')
    assert block.read_path(name) == b'{"task_id": "abc"}'
    assert ObjectStore.from_settings(store_settings).exists(f"prefect/{name}")


def test_the_async_methods_prefect_calls_work_too(store_settings: Settings) -> None:
    block = ObjectStoreResults()
    name = f"parameters/{uuid.uuid4()}"

    async def round_trip() -> bytes:
        await block.awrite_path(name, b"x")
        return await block.aread_path(name)

    assert asyncio.run(round_trip()) == b"x"


@pytest.mark.parametrize("path", ["../uploads/x", "/etc/passwd", "parameters/../../x", "a b", "", "x/" * 10])
def test_only_names_prefect_makes_become_keys(path: str) -> None:
    with pytest.raises(InvalidInput):
        object_key(path)
