"""Short write transactions: a version's files go to the object store before the registry's write
transaction opens, so on SQLite (one writer at a time) a large upload does not hold up every other write.

The API talks to the object store through a throttling TCP proxy (a slow store, for real: SeaweedFS behind
a socket that forwards about 24 MB/s), so a 128 MB file spends seconds on its way to the store; meanwhile
other writes (a new resource, an API token's `last_used_at` stamp) must complete within a few seconds.
Before the change, the version's row was inserted first and the file stored inside that transaction: every
other write waited for the whole transfer (and would fail past SQLite's 30 s busy timeout).
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from commons.settings import Settings
from launcher.client import CommonsClient
from launcher.stack import Stack
from registry.migrate import upgrade
from resources.sam.model import TINY_CONFIG
from tests.conftest import free_port_block

BIG_BYTES = 128 * 1024 * 1024
PHOTOS, PHOTO_SIDE = 40, 1024  # random noise barely compresses: about 3 MiB each, 120 MiB in all
STORE_BYTES_PER_SECOND = 24 * 1024 * 1024
WRITE_BOUND_SECONDS = 3.0


class ThrottlingProxy:
    """Forwards TCP connections to `upstream`, the client→upstream direction at most `rate` bytes/s in all;
    counts the bytes sent upstream, so a test knows when a large upload is on its way to the store."""

    def __init__(self, upstream: tuple[str, int], *, rate: int) -> None:
        self.upstream = upstream
        self.rate = rate
        self.sent = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, throttled: bool) -> None:
        try:
            while True:
                chunk = source.recv(256 * 1024)
                if not chunk:
                    break
                if throttled:
                    with self._lock:
                        self.sent += len(chunk)
                    time.sleep(len(chunk) / self.rate)  # each connection at most `rate`: one upload at a time
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


@dataclass
class SlowStoreStack:
    settings: Settings
    proxy: ThrottlingProxy

    def user(self) -> CommonsClient:
        client = CommonsClient(self.settings.api_url, timeout=300)
        name = f"user-{uuid.uuid4().hex[:10]}"
        client.sign_up(name, "correct horse battery")
        client.sign_in(name, "correct horse battery")
        return client


@pytest.fixture(scope="module")
def slow_store(shared_services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowStoreStack]:
    """An API on SQLite whose object store is the session's SeaweedFS behind the throttling proxy."""
    host, port = shared_services.resolved_s3_endpoint.rsplit(":", 1)
    proxy = ThrottlingProxy((host, int(port)), rate=STORE_BYTES_PER_SECOND)
    root = tmp_path_factory.mktemp("short-transactions")
    settings = shared_services.model_copy(
        update={
            "data_dir": root,
            "database_url": f"sqlite:///{root / 'commons.db'}",
            "s3_endpoint": f"127.0.0.1:{proxy.port}",
            "api_port": free_port_block(1),
            "work_pool": "commons-short-transactions",
            "deployment_name": "commons-short-transactions",
            "warm_workers": 0,
            "max_weights_bytes": BIG_BYTES + 64 * 1024 * 1024,
            "sign_up_rate_limit": "1000/minute",
            "sign_in_rate_limit": "1000/minute",
        }
    )
    stack = Stack(settings)
    try:
        upgrade(settings.resolved_database_url)
        stack.start_api()
        yield SlowStoreStack(settings=settings, proxy=proxy)
    finally:
        stack.stop()
        proxy.close()


def timed(action: Any) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def upload_under_way(
    slow_store: SlowStoreStack, upload: Callable[[dict[str, Any]], None], *, sent: int, within: float, what: str
) -> tuple[threading.Thread, dict[str, Any], int]:
    """Start `upload(result)` in a thread and wait until `sent` bytes of it went to the store: the thread, its
    result (with "error" if it raised, and "seconds" it took once it ends) and the proxy's count before it."""
    result: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            upload(result)
        except BaseException as error:  # reported by the test
            result["error"] = error
        result["seconds"] = time.monotonic() - started

    before = slow_store.proxy.sent
    uploader = threading.Thread(target=run, daemon=True)
    uploader.start()
    deadline = time.monotonic() + within
    while slow_store.proxy.sent - before < sent:
        assert uploader.is_alive(), result
        assert time.monotonic() < deadline, f"{what} never reached the object store"
        time.sleep(0.05)
    return uploader, result, before


def test_other_writes_go_on_while_a_large_version_goes_to_the_store(
    slow_store: SlowStoreStack, tiny_weights: Path, tmp_path: Path
) -> None:
    provider = slow_store.user()
    name = f"big-{uuid.uuid4().hex[:8]}"
    provider.create_resource(name=name, kind="segmenter.sam", title="Big")
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:  # sparse: zeros that cost no disk
        handle.truncate(BIG_BYTES)

    other = slow_store.user()
    made = other.http.post("/users/me/tokens", json={"name": "script", "expires_in_days": 1})
    assert made.status_code == 201, made.text
    script = httpx.Client(
        base_url=f"{slow_store.settings.api_url}/api/v1",
        headers={"Authorization": f"Bearer {made.json()['token']}"},
        timeout=60,
    )

    def upload(result: dict[str, Any]) -> None:
        result["version"] = provider.upload_version(name, files=[tiny_weights, big], config=TINY_CONFIG)

    on_its_way = tiny_weights.stat().st_size + 16 * 1024 * 1024  # the weights went first; the big file follows
    uploader, result, _ = upload_under_way(slow_store, upload, sent=on_its_way, within=120, what="the upload")

    latencies: list[float] = []
    for index in range(3):
        latencies.append(
            timed(
                lambda i=index: other.create_resource(
                    name=f"meanwhile-{uuid.uuid4().hex[:6]}-{i}", kind="segmenter.sam", title="t"
                )
            )
        )
        latencies.append(timed(lambda: script.get("/users/me").raise_for_status()))  # stamps last_used_at
    still_storing = uploader.is_alive()
    uploader.join(timeout=180)
    script.close()
    assert "error" not in result, result.get("error")
    print(f"upload {result['seconds']:.1f} s; writes meanwhile {', '.join(f'{s:.2f}' for s in latencies)} s")
    assert still_storing, "the writes were made while the file was still on its way to the store"
    assert max(latencies) < WRITE_BOUND_SECONDS, latencies
    assert result["seconds"] > max(latencies) + 2, "the upload really was slow"

    version = result["version"]
    assert {f["name"]: f["size"] for f in version["files"]} == {
        tiny_weights.name: tiny_weights.stat().st_size,
        "big.bin": BIG_BYTES,
    }
    listed = other.http.get("/users/me/tokens").json()
    assert listed[0]["last_used_at"] is not None, "the token's use was stamped"
    download = provider.http.get(f"/resources/{name}/versions/1/files/big.bin", follow_redirects=False)
    assert download.status_code == 307
    with httpx.stream("GET", download.headers["location"], headers={"Range": "bytes=0-15"}, timeout=30) as part:
        assert part.status_code in (200, 206)
        assert next(part.iter_bytes()).startswith(b"\0" * 16)


def test_other_writes_go_on_while_dataset_photos_go_to_the_store(slow_store: SlowStoreStack) -> None:
    """Photos added to a dataset, likewise: every photo's bytes go to the store, then the rows are written in a
    short transaction at the end; meanwhile other writes complete."""
    owner, other = slow_store.user(), slow_store.user()
    dataset = owner.http.post("/datasets", json={"name": "noisy photos", "classes": ["noise"]}).json()
    rng = np.random.default_rng(7)
    photos = []
    for index in range(PHOTOS):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (PHOTO_SIDE, PHOTO_SIDE, 3), dtype=np.uint8)).save(buffer, "PNG")
        photos.append(("files", (f"noise-{index}.png", buffer.getvalue(), "image/png")))
    total = sum(len(photo[1][1]) for photo in photos)

    def upload(result: dict[str, Any]) -> None:
        answer = owner.http.post(f"/datasets/{dataset['ref']}/items", files=photos, data={"class": "noise"})
        result["status"], result["items"] = answer.status_code, answer.json()

    # wait until a quarter of the photos are on their way
    uploader, result, before = upload_under_way(slow_store, upload, sent=total // 4, within=180, what="the photos")
    latencies = [
        timed(
            lambda i=index: other.create_resource(
                name=f"while-{i}-{uuid.uuid4().hex[:6]}", kind="segmenter.sam", title="t"
            )
        )
        for index in range(3)
    ]
    still_storing = slow_store.proxy.sent - before < total
    uploader.join(timeout=300)
    assert "error" not in result, result.get("error")
    print(f"{PHOTOS} photos ({total / 2**20:.0f} MiB) in {result['seconds']:.1f} s; writes meanwhile {latencies}")
    assert still_storing, "the writes were made while photos were still on their way to the store"
    assert max(latencies) < WRITE_BOUND_SECONDS, latencies
    assert result["status"] == 201 and len(result["items"]) == PHOTOS, result
    listed = owner.http.get(f"/datasets/{dataset['ref']}").json()
    assert listed["item_count"] == listed["labelled_count"] == PHOTOS
