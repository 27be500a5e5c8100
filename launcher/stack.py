"""The embedded stack: object store, Prefect server, one worker and the API, as supervised children.

Everything listens on the configured host (127.0.0.1 by default). External services named in the
settings (`COMMONS_S3_ENDPOINT`, `COMMONS_PREFECT_API_URL`, `COMMONS_DATABASE_URL`) are used instead of
starting embedded ones.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from commons.errors import ServiceUnavailable
from commons.settings import Settings
from commons.store import ObjectStore
from registry.migrate import upgrade

log = logging.getLogger(__name__)
BIN = Path(sys.executable).parent


def uvicorn_args(settings: Settings, *, host: str, port: int) -> list[str]:
    """How the API is served, everywhere (`commons up`, `commons serve` in the images and the chart)."""
    return [
        "api.app:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--no-proxy-headers",  # the app reads X-Forwarded-For itself, from COMMONS_TRUSTED_PROXIES only
        # h11 (pure Python, in the base install) so the header bound below applies; a request line plus headers
        # over 16 KiB is refused 400. Past limit-concurrency open connections or requests, new requests get 503 at
        # once; an idle kept-alive connection closes after timeout-keep-alive. Bodies are bounded and timed by
        # api/body_limits.py.
        "--http",
        "h11",
        "--h11-max-incomplete-event-size",
        str(16 * 1024),
        "--limit-concurrency",
        str(settings.api_max_connections),
        "--timeout-keep-alive",
        str(settings.api_keep_alive_seconds),
    ]


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to send SIGTERM if `commons up` itself dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    command: list[str] = field(default_factory=list)  # what `restart` runs again
    signs_tokens: bool = False


@dataclass
class Stack:
    settings: Settings
    children: list[Child] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.resolve()

    def environment(self, *, signs_tokens: bool = False) -> dict[str, str]:
        """The environment a child gets: resolved settings and Prefect's own variables. Only the API signs
        tokens: every other child (workers and the flow runs they start among them) lacks COMMONS_SECRET_KEY."""
        env = dict(os.environ)
        for name, value in self.settings.model_dump().items():
            if value is not None:
                env[f"COMMONS_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
        if not signs_tokens:
            env.pop("COMMONS_SECRET_KEY", None)
        env.update(
            {
                "COMMONS_DATA_DIR": str(self.data_dir),
                "COMMONS_DATABASE_URL": self.settings.resolved_database_url,
                "COMMONS_S3_ENDPOINT": self.settings.resolved_s3_endpoint,
                "COMMONS_PREFECT_API_URL": self.settings.resolved_prefect_api_url,
                "COMMONS_API_PORT": str(self.settings.api_port),
                "PREFECT_API_URL": self.settings.resolved_prefect_api_url,
                "PREFECT_HOME": str(self.data_dir / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "PREFECT_WORKER_QUERY_SECONDS": str(self.settings.worker_query_seconds),
                "PREFECT_WORKER_PREFETCH_SECONDS": "0",
                "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
                "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "INFO"),
                "PREFECT_UI_ENABLED": "true",
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": os.environ.get(
                    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
                    f"sqlite+aiosqlite:///{self.data_dir / 'prefect' / 'prefect.db'}",
                ),
                "AWS_ACCESS_KEY_ID": self.settings.s3_access_key,
                "AWS_SECRET_ACCESS_KEY": self.settings.s3_secret_key,
            }
        )
        return env

    def _spawn(self, name: str, command: list[str], *, signs_tokens: bool = False) -> Child:
        child = self._launch(name, command, signs_tokens=signs_tokens)
        self.children.append(child)
        return child

    def restart(self, child: Child) -> Child:
        """Start a dead child again with its own command, in its place (stop order unchanged)."""
        child.log_file.close()
        again = self._launch(child.name, child.command, signs_tokens=child.signs_tokens)
        self.children[self.children.index(child)] = again
        return again

    def _launch(self, name: str, command: list[str], *, signs_tokens: bool) -> Child:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=self.environment(signs_tokens=signs_tokens),
            cwd=self.data_dir,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        return Child(
            name=name,
            process=process,
            log_path=log_path,
            log_file=log_file,
            command=command,
            signs_tokens=signs_tokens,
        )

    def _wait(self, child: Child | None, what: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child is not None and child.process.poll() is not None:
                raise ServiceUnavailable(
                    f"{what} exited with code {child.process.returncode} while starting; see {child.log_path}"
                )
            try:
                if ready():
                    return
            except Exception as error:
                log.debug("%s not ready yet: %s", what, error)
            time.sleep(0.25)
        where = f"; see {child.log_path}" if child else ""
        raise ServiceUnavailable(f"{what} did not become healthy within {timeout:.0f} s{where}")

    def start_object_store(self) -> None:
        store = ObjectStore.from_settings(self.settings)
        child = None
        if self.settings.s3_endpoint is None:
            port = self.settings.s3_port
            folder = self.data_dir / "s3"
            folder.mkdir(parents=True, exist_ok=True)
            child = self._spawn(
                "s3",
                [
                    str(BIN / "weed"),
                    "mini",
                    f"-dir={folder}",
                    f"-ip={self.settings.host}",
                    f"-ip.bind={self.settings.host}",
                    f"-s3.port={port}",
                    f"-master.port={port + 1}",
                    f"-volume.port={port + 2}",
                    f"-filer.port={port + 3}",
                    f"-admin.port={port + 4}",
                    "-webdav=false",
                    "-admin.ui=false",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                ],
            )

        def bucket_ready() -> bool:
            store.client.list_buckets()
            store.ensure_bucket()
            return True

        self._wait(child, "object store", bucket_ready, timeout=90)

    def start_prefect_server(self) -> None:
        child = None
        if self.settings.prefect_api_url is None:
            (self.data_dir / "prefect").mkdir(parents=True, exist_ok=True)
            child = self._spawn(
                "prefect-server",
                [
                    str(BIN / "prefect"),
                    "server",
                    "start",
                    "--host",
                    self.settings.host,
                    "--port",
                    str(self.settings.prefect_port),
                    "--analytics-off",
                ],
            )
        url = self.settings.resolved_prefect_api_url
        self._wait(
            child, "Prefect server", lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200, timeout=120
        )

    def create_deployment(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "flows.deployment"], env=self.environment(), check=True, cwd=self.data_dir
        )

    def start_worker(self) -> None:
        child = self._spawn(
            "worker",
            [
                str(BIN / "prefect"),
                "worker",
                "start",
                "--pool",
                self.settings.work_pool,
                "--type",
                "process",
                "--name",
                f"commons-worker-{os.getpid()}",
            ],
        )
        url = self.settings.resolved_prefect_api_url

        def online() -> bool:
            response = httpx.post(f"{url}/work_pools/{self.settings.work_pool}/workers/filter", json={}, timeout=2)
            return any(w.get("status") == "ONLINE" for w in response.json())

        self._wait(child, "Prefect worker", online, timeout=90)

    def start_warm_workers(self) -> None:
        """Long-lived task workers for the warm lane; ready once the Prefect server sees them subscribed."""
        if self.settings.warm_workers == 0:
            return
        children = [
            self._spawn(f"warm-worker-{index}", [sys.executable, "-m", "flows.warm_lane"])
            for index in range(self.settings.warm_workers)
        ]
        url = self.settings.resolved_prefect_api_url

        def subscribed() -> bool:
            response = httpx.post(f"{url}/task_workers/filter", json={}, timeout=2)
            return len(response.json()) >= len(children)

        for child in children:
            self._wait(child, "warm worker", subscribed, timeout=120)

    def start_api(self) -> None:
        child = self._spawn(
            "api",
            [str(BIN / "uvicorn"), *uvicorn_args(self.settings, host=self.settings.host, port=self.settings.api_port)],
            signs_tokens=True,
        )
        self._wait(
            child,
            "API",
            lambda: httpx.get(f"{self.settings.api_url}/api/v1/resources", timeout=2).status_code == 200,
            timeout=90,
        )

    def start(self, *, progress: Callable[[str], None] = print) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        progress("object store …")
        self.start_object_store()
        progress(f"object store ready at http://{self.settings.resolved_s3_endpoint}")
        upgrade(self.settings.resolved_database_url)
        progress("database migrated")
        self.start_prefect_server()
        progress(f"Prefect server ready at {self.settings.resolved_prefect_api_url}")
        self.create_deployment()
        self.start_worker()
        progress(f"Prefect worker online (pool {self.settings.work_pool})")
        self.start_warm_workers()
        progress(f"{self.settings.warm_workers} warm worker(s) subscribed (the warm lane)")
        self.start_api()
        progress(f"API ready at {self.settings.api_url}")

    def exited(self) -> list[str]:
        """Names of children that have stopped on their own."""
        return [child.name for child in self.children if child.process.poll() is not None]

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM each child's process group in reverse start order, then SIGKILL what lingers."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
            try:
                child.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
            child.log_file.close()
        self.children.clear()
