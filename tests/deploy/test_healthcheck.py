"""deploy/healthcheck.py (the images' `commons-healthcheck`) against small local HTTP servers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deploy.conftest import DEPLOY

SCRIPT = DEPLOY / "healthcheck.py"


class Fake:
    status = 200
    workers: list[dict[str, object]] = []  # noqa: RUF012 - replaced per test
    requests: list[tuple[str, str, bytes]] = []  # noqa: RUF012


class Handler(BaseHTTPRequestHandler):
    def _answer(self, body: bytes) -> None:
        self.send_response(Fake.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Fake.requests.append(("GET", self.path, b""))
        self._answer(b'{"status": "ok"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Fake.requests.append(("POST", self.path, body))
        self._answer(json.dumps(Fake.workers).encode())

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    Fake.status, Fake.workers, Fake.requests = 200, [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def check(*arguments: str, api_url: str | None = None) -> int:
    env = {"PATH": "/usr/bin:/bin"} | ({"PREFECT_API_URL": api_url} if api_url else {})
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], env=env, timeout=30, check=False).returncode


def test_http_is_healthy_on_2xx_only(server: str) -> None:
    assert check("http", f"{server}/api/v1/health") == 0
    Fake.status = 503
    assert check("http", f"{server}/api/v1/health") == 1
    assert [path for _, path, _ in Fake.requests] == ["/api/v1/health", "/api/v1/health"]


def test_http_is_unhealthy_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert check("http", f"http://127.0.0.1:{port}/health") == 1


def test_task_worker_must_be_this_containers(server: str) -> None:
    hostname = socket.gethostname()
    Fake.workers = [{"identifier": f"other-{hostname}-12", "task_keys": ["run-task-warm"]}]
    assert check("task-worker", api_url=f"{server}/api") == 1
    Fake.workers.append({"identifier": f"{hostname}-7", "task_keys": ["run-task-warm"]})
    assert check("task-worker", api_url=f"{server}/api/") == 0
    assert all(request[:2] == ("POST", "/api/task_workers/filter") for request in Fake.requests)


def test_task_worker_needs_the_prefect_api_url_and_usage_is_checked() -> None:
    assert check("task-worker") == 1
    assert check() == 2
    assert check("http") == 2
