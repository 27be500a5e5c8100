"""Request bodies on the real API: size limits before the body is read, slow senders cut with 408 and never
holding an in-flight slot, spooled bodies freed, and many-photo uploads in the memory of one photo.

The body rules do not depend on the registry backend, so these run on the SQLite stack only."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import select
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from api.body_limits import MULTIPART_SLACK, MiB, limit_for
from commons.settings import Settings
from launcher.client import CommonsClient
from tests.conftest import RunningStack

SQLITE_ONLY = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


# --- helpers: raw HTTP/1.1 on a socket, and the API process seen through /proc ---------------------------------


def connect(settings: Settings, timeout: float = 20) -> socket.socket:
    return socket.create_connection((settings.host, settings.api_port), timeout=timeout)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: commons", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection before answering; got {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock: socket.socket, timeout: float = 5) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def open_temp_files(pid: int) -> int:
    """Unlinked temporary files the process holds open (tempfile.TemporaryFile: `/tmp/#123 (deleted)`)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        count += target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)")
    return count


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def token(client: CommonsClient) -> str:
    return str(client.http.headers["Authorization"]).removeprefix("Bearer ")


def noise_png(seed: int, side: int = 1000) -> bytes:
    """A photo of random pixels, stored uncompressed: about 3 bytes a pixel, fast to make, distinct per seed."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


# --- route limits: every multipart route has its own ---------------------------------------------------------


def test_every_upload_route_has_its_own_limit_and_the_rest_the_default() -> None:
    from api.app import create_app

    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    paths = create_app(settings).openapi()["paths"]
    multipart = [
        path
        for path, operations in paths.items()
        if "multipart/form-data" in operations.get("post", {}).get("requestBody", {}).get("content", {})
    ]
    assert len(multipart) >= 4, multipart
    for template in multipart:
        path = "/".join("alice/thing" if part.startswith("{") else part for part in template.split("/"))
        rule = limit_for(settings, "POST", path)
        assert rule.upload and rule.limit > settings.max_body_bytes, template
    assert limit_for(settings, "POST", "/api/v1/uploads").limit == settings.max_upload_bytes + MULTIPART_SLACK
    assert limit_for(settings, "POST", "/api/v1/tasks").limit == settings.max_body_bytes == 1024 * 1024
    assert not limit_for(settings, "PATCH", "/api/v1/resources/alice/thing").upload


# --- the real API ------------------------------------------------------------------------------------------


@SQLITE_ONLY
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(stack: RunningStack) -> None:
    user = stack.new_user()
    cases = [
        ("/api/v1/uploads", 300 * 1024 * 1024, {"Authorization": f"Bearer {token(user)}"}, 413),
        ("/api/v1/tasks", 2 * 1024 * 1024, {"Content-Type": "application/json"}, 413),
        ("/api/v1/uploads", 1000, {}, 401),  # uploads only from signed-in callers, before their body
    ]
    for path, length, headers, expected in cases:
        with connect(stack.settings) as sock:
            started = time.monotonic()
            sock.sendall(request_head("POST", path, {**headers, "Content-Length": str(length)}))  # no body
            status, answer_headers, body = read_response(sock)
            assert (status, time.monotonic() - started < 3) == (expected, True), (path, status, body)
            assert answer_headers["content-type"] == "application/json"
            detail = json.loads(body)["detail"]
            assert ("limit" in detail) if expected == 413 else ("sign in" in detail), detail
            assert closed_by_server(sock), "the server closes instead of reading the refused body"


@SQLITE_ONLY
def test_a_chunked_stream_past_the_limit_is_cut_with_413_and_its_spool_freed(stack: RunningStack) -> None:
    user = stack.new_user()
    pid = stack.api_pid()
    before = open_temp_files(pid)
    limit = limit_for(stack.settings, "POST", "/api/v1/uploads").limit
    chunk = b"\xff" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    head = {
        "Authorization": f"Bearer {token(user)}",
        "Content-Type": "multipart/form-data; boundary=x",
        "Transfer-Encoding": "chunked",
    }
    with connect(stack.settings) as sock:
        sock.sendall(request_head("POST", "/api/v1/uploads", head))
        for _ in range(2 * 1024 * 1024 // len(chunk)):  # 2 MiB: past the 1 MiB kept in memory
            sock.sendall(frame)
        assert wait_for(lambda: open_temp_files(pid) > before, 5), "a body past body_spool_bytes goes to a file"
        sent = 2 * 1024 * 1024
        while sent < 2 * limit and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        # The answer came while the client was still sending (what it wrote past the limit sat in socket buffers).
        assert sent < 2 * limit, f"no answer after {sent} bytes; the limit is {limit}"
        status, _, body = read_response(sock)
        assert status == 413 and "passed the limit" in json.loads(body)["detail"], body
    assert wait_for(lambda: open_temp_files(pid) == before, 5), "the spool is closed and its space freed"


def trickle(settings: Settings, stop: threading.Event, outcomes: list[int | str]) -> None:
    """One slow sender: a JSON body declared 1000 bytes long, one byte every half second, unauthenticated."""
    try:
        with connect(settings, timeout=30) as sock:
            sock.sendall(
                request_head("POST", "/api/v1/tasks", {"Content-Type": "application/json", "Content-Length": "1000"})
            )
            while not stop.is_set():
                if select.select([sock], [], [], 0.5)[0]:
                    outcomes.append(read_response(sock)[0])
                    return
                sock.sendall(b" ")
            outcomes.append("stopped")
    except OSError as error:
        outcomes.append(type(error).__name__)


@SQLITE_ONLY
def test_slow_senders_hold_no_in_flight_slot_and_are_cut_with_408(stack: RunningStack) -> None:
    """30 clients (more than the 24 in-flight slots) trickle their bodies; ordinary reads answer meanwhile."""
    assert stack.settings.api_max_in_flight < 30
    stop = threading.Event()
    outcomes: list[int | str] = []
    senders = [threading.Thread(target=trickle, args=(stack.settings, stop, outcomes)) for _ in range(30)]
    for sender in senders:
        sender.start()
    try:
        time.sleep(1.5)  # every sender is connected and has sent its headers
        reads = []
        with httpx.Client(base_url=f"{stack.settings.api_url}/api/v1", timeout=30) as http:
            for _ in range(20):
                started = time.monotonic()
                status = http.get("/resources").status_code
                reads.append((status, time.monotonic() - started))
        assert all(status == 200 for status, _ in reads), reads
        slowest = max(seconds for _, seconds in reads)
        assert slowest < 2.0, f"a read took {slowest:.1f} s while slow senders were connected"
        assert outcomes == [], "the senders were still sending while the reads were answered"
        # Each sender passes body_timeout_seconds (10 s) at 2 bytes a second: answered 408, connection closed.
        for sender in senders:
            sender.join(timeout=stack.settings.body_timeout_seconds + 10)
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=5)
    assert outcomes == [408] * 30, outcomes


@SQLITE_ONLY
def test_a_body_that_stops_arriving_is_answered_408_after_the_timeout(stack: RunningStack) -> None:
    with connect(stack.settings) as sock:
        started = time.monotonic()
        sock.sendall(
            request_head("POST", "/api/v1/tasks", {"Content-Type": "application/json", "Content-Length": "100"})
        )
        sock.sendall(b'{"resource": ')
        status, _, body = read_response(sock)
        elapsed = time.monotonic() - started
        assert status == 408 and "too slowly" in json.loads(body)["detail"], body
        grace = stack.settings.body_timeout_seconds
        assert grace - 0.5 <= elapsed <= grace + 3, elapsed
        assert closed_by_server(sock)


@SQLITE_ONLY
def test_a_chunked_upload_within_the_limit_is_received(stack: RunningStack, coffee_png: bytes) -> None:
    """A streamed (chunked) multipart body, spooled by the API before the route reads it, still arrives whole."""
    user = stack.new_user()
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="coffee.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + coffee_png
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 100_000):
            yield body[start : start + 100_000]

    response = user.http.post(
        "/uploads", content=pieces(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["sha256"] == hashlib.sha256(coffee_png).hexdigest()


@SQLITE_ONLY
def test_a_many_photo_upload_takes_the_memory_of_one_photo(stack: RunningStack) -> None:
    """40 photos of ~3 MB (120 MB) in one request: the API's peak memory grows by far less than their sum."""
    user = stack.new_user()
    dataset = user.http.post("/datasets", json={"name": f"many-{uuid.uuid4().hex[:6]}"}).json()
    photos = [noise_png(seed) for seed in range(40)]
    total = sum(len(photo) for photo in photos)
    assert total > 100 * 1024 * 1024 and max(len(p) for p in photos) < stack.settings.max_upload_bytes
    pid = stack.api_pid()
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current size
    baseline = memory_kib(pid, "VmRSS")
    response = user.http.post(
        f"/datasets/{dataset['id']}/items",
        files=[("files", (f"p{index}.png", photo, "image/png")) for index, photo in enumerate(photos)],
        timeout=180,
    )
    assert response.status_code == 201, response.text[:500]
    assert len(response.json()) == 40
    grew = (memory_kib(pid, "VmHWM") - baseline) * 1024
    print(f"many-photo upload: {total / 2**20:.0f} MiB of photos, API peak memory +{grew / 2**20:.1f} MiB")
    assert grew < 60 * 1024 * 1024, f"peak memory grew by {grew / 2**20:.0f} MiB for {total / 2**20:.0f} MiB of photos"


@SQLITE_ONLY
def test_the_api_is_started_with_bounded_connections_and_headers(stack: RunningStack) -> None:
    """`commons up` runs uvicorn on h11 with the header bound, the connection bound and the keep-alive timeout."""
    args = Path(f"/proc/{stack.api_pid()}/cmdline").read_bytes().decode().split("\0")
    options = {name: value for name, value in itertools.pairwise(args) if name.startswith("--")}
    assert options["--http"] == "h11" and options["--h11-max-incomplete-event-size"] == str(16 * 1024)
    assert options["--limit-concurrency"] == str(stack.settings.api_max_connections)
    assert options["--timeout-keep-alive"] == str(stack.settings.api_keep_alive_seconds)


def test_bodies_held_at_once_are_bounded_and_released(tmp_path: Path) -> None:
    """Many large uploads at once cannot fill the disk: past COMMONS_MAX_SPOOLED_BYTES a new body is answered
    429 with Retry-After (a capacity limit that clears itself; no input gets a 5xx), before it is read; what a
    finished request held is released."""
    from api.app import create_app
    from tests.api.test_security import InProcess, in_process_settings

    settings = in_process_settings(tmp_path).model_copy(update={"max_spooled_bytes": 2 * MiB})
    client = InProcess(create_app(settings))
    client.headers["Authorization"] = "Bearer not-a-valid-token"
    too_big = client.post("/api/v1/uploads", files={"file": ("big.png", b"\0" * (3 * MiB), "image/png")})
    assert too_big.status_code == 429 and too_big.headers["retry-after"] == "5", too_big.text
    assert "COMMONS_MAX_SPOOLED_BYTES" in too_big.json()["detail"]
    for _ in range(3):  # each fits alone; if a finished request's bytes were not released, the second would not
        fits = client.post("/api/v1/uploads", files={"file": ("half.png", b"\0" * (3 * MiB // 2), "image/png")})
        assert fits.status_code == 401, fits.text  # past the body limits: the route found the token wrong
