"""A commons on several hosts of one machine (tests/hosts/netns.py): the server host (the root namespace: API,
Prefect server, object store, and a socat relay to PostgreSQL on 127.0.0.1) and worker hosts, each a network
namespace running one batch worker (a Prefect process worker) and one warm worker (flows/warm_lane.py), kept
running by the supervisor of `commons up` (launcher/supervisor.py), as a host's service manager would.

Every process is started by the code of `commons up` (launcher/stack.py) with the environment it gives, only
inside the host's namespace (`ip netns exec`). `cluster()` removes everything it made, however it ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from commons.settings import Settings
from launcher.stack import BIN, Child, Stack
from launcher.supervisor import Supervisor
from registry.migrate import upgrade
from tests.conftest import _postgres_database, free_port_block
from tests.hosts.netns import Host, Network, sweep_leftovers

log = logging.getLogger(__name__)
REPOSITORY = Path(__file__).resolve().parents[2]
SLEEPER_KIND = "tests.hosts.sleeper_kind"


@dataclass
class HostStack(Stack):
    """A Stack whose children run inside `namespace` (None: this namespace), with `extra_env` added."""

    namespace: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self, *, signs_tokens: bool = False) -> dict[str, str]:
        return {**super().environment(signs_tokens=signs_tokens), **self.extra_env}

    def _launch(self, name: str, command: list[str], *, signs_tokens: bool) -> Child:
        if self.namespace is not None and command[:3] != ["ip", "netns", "exec"]:
            command = ["ip", "netns", "exec", self.namespace, *command]  # a restart reuses the wrapped command
        return super()._launch(name, command, signs_tokens=signs_tokens)


@dataclass
class WorkerHost:
    host: Host
    stack: HostStack

    @property
    def label(self) -> str:
        return self.host.label

    @property
    def batch_worker(self) -> str:
        """The Prefect worker's name in the pool."""
        return f"{self.host.label}-batch"

    def start(self) -> None:
        """Start the host's batch and warm worker (`wait_online` waits for them)."""
        settings = self.stack.settings
        self.stack._spawn(
            "batch-worker",
            [
                str(BIN / "prefect"),
                *("worker", "start", "--pool", settings.work_pool, "--type", "process"),
                *("--name", self.batch_worker, "--limit", "1"),  # one task at a time per host: spread, not piled up
            ],
        )
        self.stack._spawn("warm-worker-0", [sys.executable, "-m", "flows.warm_lane"])

    def wait_online(self, *, task_workers: int) -> None:
        """Until Prefect sees this host's batch worker online and `task_workers` task workers subscribed."""
        settings = self.stack.settings
        url = settings.resolved_prefect_api_url

        def online() -> bool:
            workers = httpx.post(f"{url}/work_pools/{settings.work_pool}/workers/filter", json={}, timeout=2).json()
            subscribed = httpx.post(f"{url}/task_workers/filter", json={}, timeout=2).json()
            mine = any(w["name"] == self.batch_worker and w.get("status") == "ONLINE" for w in workers)
            return mine and len(subscribed) >= task_workers

        for child in self.stack.children:
            self.stack._wait(child, f"the workers of host {self.label}", online, timeout=240)


@dataclass
class Cluster:
    network: Network
    server: HostStack
    workers: list[WorkerHost]

    @property
    def settings(self) -> Settings:
        return self.server.settings

    def worker(self, label: str) -> WorkerHost:
        return next(worker for worker in self.workers if worker.label == label)


class Supervising:
    """The hosts' supervisors, checked twice a second on a thread until `stop()`."""

    def __init__(self, stacks: list[HostStack]) -> None:
        self.supervisors = [Supervisor(stack, say=lambda line: log.warning("%s", line)) for stack in stacks]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="host-supervisors", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            for supervisor in self.supervisors:
                try:
                    supervisor.check()
                except Exception:
                    log.exception("supervising a host failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG, as for the stack's children. Linux sends it when the *thread* that started the child
    ends, so every child here is started from the test's own thread, never from a pool."""
    from launcher.stack import _die_with_parent as die

    die()


def relay(listen: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """socat on `listen`:`port` forwarding to PostgreSQL on 127.0.0.1:5432, in its own process group."""
    with log_path.open("ab") as output:
        return subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind={listen},reuseaddr,fork", "TCP:127.0.0.1:5432"],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def _wait_listening(address: str, port: int) -> None:
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.5):
            return
        threading.Event().wait(0.1)
    raise RuntimeError(f"nothing listens on {address}:{port}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def server_settings(root: Path, network: Network, database_url: str, **overrides: Any) -> Settings:
    tag = network.tag
    return Settings(
        data_dir=root / "server",
        host=network.server_address,
        s3_port=free_port_block(),
        prefect_port=free_port_block(1),
        api_port=free_port_block(1),
        database_url=database_url,
        work_pool=f"{tag}-pool",
        deployment_name=f"{tag}-deployment",
        extra_kinds=[SLEEPER_KIND],
        warm_workers=1,  # the API's dispatcher asks Prefect whether any warm worker listens
        sign_in_rate_limit="1000/minute",
        sign_up_rate_limit="1000/minute",
        **overrides,
    )


@contextlib.contextmanager
def cluster(root: Path, *, hosts: int = 2, **overrides: Any) -> Iterator[Cluster]:
    """The server host and `hosts` worker hosts ("w1", "w2", …), started; all removed when the block ends."""
    sweep_leftovers()
    network = Network()
    databases = _postgres_database()
    stacks: list[HostStack] = []
    relay_process: subprocess.Popen[bytes] | None = None
    supervising: Supervising | None = None
    try:
        network.start()
        local_url = next(databases)
        relay_port = free_port_block(1)
        root.mkdir(parents=True, exist_ok=True)
        relay_process = relay(network.server_address, relay_port, root / "relay.log")
        _wait_listening(network.server_address, relay_port)
        url = local_url.replace("127.0.0.1:5432", f"{network.server_address}:{relay_port}")
        settings = server_settings(root, network, url, **overrides)
        environment = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))}
        server = HostStack(settings, extra_env=environment)
        stacks.append(server)
        with ThreadPoolExecutor(max_workers=1) as side:  # children start on this thread only (see _die_with_parent)
            migrated = side.submit(upgrade, url)
            server.start_object_store()
            server.start_prefect_server()
            migrated.result()
        server.create_deployment()
        remote = {"s3_endpoint": settings.resolved_s3_endpoint, "prefect_api_url": settings.resolved_prefect_api_url}
        workers = []
        for index in range(1, hosts + 1):  # every host's workers start together, and with the API
            host = network.add_host(f"w{index}")
            host_settings = settings.model_copy(update={"data_dir": root / host.label, **remote})
            stack = HostStack(host_settings, namespace=host.namespace, extra_env=environment)
            stacks.append(stack)
            workers.append(WorkerHost(host=host, stack=stack))
            workers[-1].start()
        server.start_api()
        for worker in workers:
            worker.wait_online(task_workers=hosts)
        supervising = Supervising([worker.stack for worker in workers])
        yield Cluster(network=network, server=server, workers=workers)
    finally:
        if supervising is not None:
            supervising.stop()
        for stack in reversed(stacks):
            with contextlib.suppress(Exception):
                stack.stop(timeout=10)
        network.close()
        if relay_process is not None:
            _stop_group(relay_process)
        databases.close()
