"""Losing a worker host: tasks spread over two worker hosts; one host's link is cut while it runs a batch and
a warm task; both end `failed` with the reason within 60 s, nothing is published twice, new tasks run on the
surviving host, and once the link is back the host's workers take tasks again.

The hosts are network namespaces on one machine (tests/hosts/netns.py, tests/hosts/cluster.py); the test
needs root (it is skipped elsewhere, with the reason).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from commons.store import ObjectStore, keys
from tests.hosts.cluster import Cluster, WorkerHost
from tests.hosts.conftest import Sleeper

FAILOVER_LIMIT = 60.0  # seconds from the cut to the cut host's tasks ending
LONG = 35.0  # a task still running when the cut comes


def _until(what: str, check: Callable[[], Any], *, timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def running_on(cluster: Cluster, task_id: str) -> str | None:
    """The host whose data folder holds the task's outputs folder (the sleeper makes it first, the run removes
    it when it ends): the host running the task, or None."""
    for worker in cluster.workers:
        if (worker.stack.settings.data_dir / "work" / task_id / "outputs").is_dir():
            return worker.label
    return None


def host_of(cluster: Cluster, task_id: str) -> str:
    """The host the task runs on, once it runs there."""
    found: str = _until(f"task {task_id} runs on a host", lambda: running_on(cluster, task_id), timeout=90)
    return found


def ended(sleeper: Sleeper, task_id: str, *, timeout: float) -> dict[str, Any]:
    return sleeper.client.wait(task_id, timeout=timeout, poll=0.5)


def ran_at(task: dict[str, Any]) -> str:
    """The address of the host that ran a succeeded sleeper task (its ran.json)."""
    assert task["status"] == "succeeded", (task["id"], task["status"], task.get("error"))
    url = next(output["url"] for output in task["outputs"] if output["name"] == "ran.json")
    return str(httpx.get(url, timeout=30).json()["address"])


def test_a_cut_worker_host_fails_its_tasks_once_and_rejoins(hosts_cluster: Cluster, sleeper: Sleeper) -> None:
    cluster, started = hosts_cluster, time.monotonic()
    # A warm task first (on whichever host's warm worker takes it), then two batch tasks: each batch worker
    # takes one task at a time, so one runs on each host.
    warm = sleeper.warm(seconds=120)
    warm_host = host_of(cluster, warm)
    batch = [sleeper.batch(seconds=LONG) for _ in range(2)]
    batch_hosts = {task: host_of(cluster, task) for task in batch}
    assert sorted(batch_hosts.values()) == ["w1", "w2"], batch_hosts

    placed = time.monotonic() - started
    victim = cluster.worker(warm_host)
    survivor = next(worker for worker in cluster.workers if worker is not victim)
    cut_batch = next(task for task, host in batch_hosts.items() if host == victim.label)
    kept_batch = next(task for task, host in batch_hosts.items() if host == survivor.label)
    cluster.network.cut(victim.host)
    cut_at = time.monotonic()
    during = [sleeper.batch(seconds=1), sleeper.warm(seconds=1)]

    for task_id in (cut_batch, warm):
        task = ended(sleeper, task_id, timeout=FAILOVER_LIMIT - (time.monotonic() - cut_at))
        assert task["status"] == "failed", task
        assert "sent no heartbeat" in task["error"], task["error"]
    failover_seconds = time.monotonic() - cut_at
    assert ran_at(ended(sleeper, kept_batch, timeout=120)) == survivor.host.address
    for task_id in during:  # new tasks keep running, on the surviving host
        assert ran_at(ended(sleeper, task_id, timeout=120)) == survivor.host.address

    cluster.network.restore(victim.host)
    restored_at = time.monotonic()
    # The cut host's runs come back to a task that has ended: they stop without publishing.
    _until(
        "the cut host's runs stop",
        lambda: running_on(cluster, cut_batch) is None and running_on(cluster, warm) is None,
        timeout=90,
    )
    stopped = time.monotonic() - restored_at
    rejoin_edits = _rejoined(cluster, sleeper, victim)
    rejoined = time.monotonic() - restored_at

    store = ObjectStore.from_settings(cluster.settings)
    for task_id in (cut_batch, warm):
        assert not store.exists(keys.task_manifest(task_id))
        assert list(store.list_keys(keys.task_outputs_prefix(task_id))) == []
    versions = sleeper.client.http.get(f"/resources/{sleeper.resource}/versions").json()
    made_by = [version["provenance"]["task"] for version in versions if version.get("provenance")]
    succeeded_edits = [kept_batch, during[0]]
    assert sorted(made_by) == sorted(succeeded_edits + rejoin_edits), made_by  # one version per edit, none twice
    for task_id in succeeded_edits:
        assert store.exists(keys.task_manifest(task_id))
    print(
        f"\nplaced in {placed:.1f} s; the cut host's tasks failed {failover_seconds:.1f} s after the cut; its runs "
        f"stopped {stopped:.1f} s and it ran tasks again {rejoined:.1f} s after the link came back"
    )


def _subscribed(cluster: Cluster, worker: WorkerHost) -> bool:
    """Whether the Prefect server lists the host's current warm worker process as subscribed (Prefect names a
    task worker `<hostname>-<pid>`)."""
    child = next(child for child in worker.stack.children if child.name == "warm-worker-0")
    if child.process.poll() is not None:
        return False  # dead; its supervisor restarts it
    url = cluster.settings.resolved_prefect_api_url
    listed = httpx.post(f"{url}/task_workers/filter", json={}, timeout=10).json()
    return f"{socket.gethostname()}-{child.process.pid}" in {entry["identifier"] for entry in listed}


def _rejoined(cluster: Cluster, sleeper: Sleeper, victim: WorkerHost) -> list[str]:
    """The cut host's workers are back: its warm worker process is subscribed again, and of two batch tasks at
    once one runs there (each batch worker takes one at a time). Returns the batch tasks (each a new version)."""
    _until("the cut host's warm worker subscribes again", lambda: _subscribed(cluster, victim), timeout=120)
    rejoin = [sleeper.batch(seconds=4) for _ in range(2)]
    warm = [sleeper.warm(seconds=2) for _ in range(2)]
    addresses = sorted(ran_at(ended(sleeper, task_id, timeout=150)) for task_id in rejoin)
    assert addresses == sorted(worker.host.address for worker in cluster.workers), (addresses, victim.label)
    warm_addresses = [ran_at(ended(sleeper, task_id, timeout=150)) for task_id in warm]
    print(f"\nafter the link came back, two warm tasks ran at {warm_addresses} ({victim.label}: {victim.host.address})")
    return rejoin
