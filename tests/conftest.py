"""Shared fixtures: fresh databases on SQLite and PostgreSQL, and the embedded stack on real services."""

from __future__ import annotations

import contextlib
import random
import socket
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from sqlmodel import select

from commons.db import session_scope
from commons.settings import Settings
from commons.store import ObjectStore
from launcher.client import CommonsClient
from registry.models import User

if TYPE_CHECKING:
    from launcher.stack import Stack

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", "postgresql"]


def free_port_block(size: int = 5, *, low: int = 20000, high: int = 29000) -> int:
    """A base port such that base..base+size-1 and base+10000.. (SeaweedFS gRPC) are all free."""
    for _ in range(200):
        base = random.randrange(low, high)
        ports = [base + i for i in range(size)] + [base + 10000 + i for i in range(size)]
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports on 127.0.0.1")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    yield from _postgres_database()


def _postgres_database() -> Generator[str, None, None]:
    name = f"commons_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:  # FORCE ends the connections pooled by the test's engine
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    from registry.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
        upgrade(url)
        yield url
        return
    for url in _postgres_database():
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def s3_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One SeaweedFS S3 server for the session, started by the code of `commons up`."""
    from launcher.stack import Stack

    settings = Settings(data_dir=tmp_path_factory.mktemp("s3"), s3_port=free_port_block())
    with running(Stack(settings), Stack.start_object_store):
        yield settings.model_copy(update={"s3_endpoint": settings.resolved_s3_endpoint})


@pytest.fixture(scope="session")
def store(s3_settings: Settings) -> ObjectStore:
    return ObjectStore.from_settings(s3_settings)


@pytest.fixture(scope="session")
def shared_services(s3_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The session's S3 server plus one Prefect server."""
    from launcher.stack import Stack

    settings = s3_settings.model_copy(
        update={"data_dir": tmp_path_factory.mktemp("prefect"), "prefect_port": free_port_block(1)}
    )
    with running(Stack(settings), Stack.start_prefect_server):
        yield settings.model_copy(update={"prefect_api_url": settings.resolved_prefect_api_url})


@contextlib.contextmanager
def running(stack: Stack, start: Callable[[Stack], object]) -> Iterator[Stack]:
    """`start(stack)` (a Stack.start_* method, or several in a function), then the block; the stack stops after it,
    however it ends."""
    try:
        start(stack)
        yield stack
    finally:
        stack.stop()


@dataclass
class RunningStack:
    settings: Settings
    backend: str

    def client(self) -> CommonsClient:
        return CommonsClient(self.settings.api_url)

    def new_user(self) -> CommonsClient:
        client = self.client()
        name = f"user-{uuid.uuid4().hex[:10]}"
        client.sign_up(name, "correct horse battery")
        client.sign_in(name, "correct horse battery")
        return client

    def api_pid(self) -> int:
        """The uvicorn process serving this stack's API port (found in /proc)."""
        port = str(self.settings.api_port)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                words = [word.decode(errors="replace") for word in (entry / "cmdline").read_bytes().split(b"\0")]
            except OSError:
                continue
            serves = "--port" in words and words[words.index("--port") + 1] == port
            if serves and any(word.endswith("uvicorn") for word in words):
                return int(entry.name)
        raise LookupError(f"no uvicorn process serves port {port}")

    def make_admin(self, client: CommonsClient) -> None:
        """Make `client`'s user an admin, directly in the database."""
        username = client.http.get("/users/me").json()["username"]
        with session_scope(self.settings.resolved_database_url) as session:
            user = session.exec(select(User).where(User.username == username)).one()
            user.is_admin = True
            session.add(user)


@pytest.fixture(scope="session", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, shared_services: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    """A worker and the API on each database backend, sharing the session's S3 and Prefect servers."""
    with api_settings(
        shared_services,
        tmp_path_factory,
        backend=request.param,
        work_pool=f"commons-{request.param}",
        grant_rate_limit="1000/minute",  # the rights matrix's owner grants often; see tests/security
        access_request_rate_limit="1000/minute",
    ) as settings:
        from launcher.stack import Stack

        with running(Stack(settings), start_every_service):
            yield RunningStack(settings=settings, backend=request.param)


def start_every_service(stack: Stack) -> None:
    """What the `stack` fixture runs besides the session's S3 and Prefect servers: the deployment, a worker, the
    warm workers and the API."""
    stack.create_deployment()
    stack.start_worker()
    stack.start_warm_workers()
    stack.start_api()


@contextlib.contextmanager
def api_settings(
    shared_services: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    backend: str,
    work_pool: str,
    **overrides: Any,
) -> Iterator[Settings]:
    """Settings of an API of its own on `backend` (a new database, migrated; a PostgreSQL one is dropped after),
    sharing the session's S3 and Prefect servers; `overrides` on top."""
    from registry.migrate import upgrade

    databases = _postgres_database() if backend == "postgresql" else None
    data_dir = tmp_path_factory.mktemp(f"{work_pool}-{backend}")
    database_url = next(databases) if databases else f"sqlite:///{data_dir / 'commons.db'}"
    settings = shared_services.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": database_url,
            "api_port": free_port_block(1),
            "work_pool": work_pool,
            "deployment_name": work_pool,
            "max_upload_bytes": 4 * 1024 * 1024,
            "sign_in_rate_limit": "1000/minute",  # every test user signs in from 127.0.0.1; see test_security.py
            "sign_up_rate_limit": "1000/minute",
            **overrides,
        }
    )
    try:
        upgrade(database_url)
        yield settings
    finally:
        if databases is not None:
            databases.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU-marked tests run where torch sees a CUDA device; elsewhere they are deselected, not skipped."""
    import torch

    if torch.cuda.is_available():
        return
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if gpu:
        config.hook.pytest_deselected(items=gpu)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]
