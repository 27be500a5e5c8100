"""Benchmark: tasks per minute with one and with two worker hosts, and the per-task overhead.

Worker hosts are network namespaces on this machine (tests/hosts/netns.py; needs root, iproute2 and socat),
each with one batch worker (a Prefect process worker, one task at a time) and one warm worker; the server
host (API, Prefect server, object store, a relay to PostgreSQL) is the root namespace (tests/hosts/cluster.py).
For each number of hosts the bench starts that commons and, on the `hosts.sleeper` test kind with
`seconds=0` (the task itself does nothing, so what is measured is the platform):

- overhead: submit → `succeeded` (manifest written) of one task at a time, median of `--repeats`, per lane;
- throughput: `--tasks` tasks submitted at once, per lane; tasks per minute from the first submit to the
  last end.

All "hosts" share this machine's cores: on 2 cores a second worker host can add little, since a batch task's
cost is mostly a new process importing torch on the same CPUs. On a real cluster each host brings its own
CPUs/GPU and the per-task overhead below is what every task pays on top of its work.

Usage (as root): .venv/bin/python bench/worker_hosts.py [--tasks 8] [--repeats 3] [--hosts 1,2]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded import arguments
from tests.hosts.cluster import cluster
from tests.hosts.conftest import Sleeper
from tests.hosts.netns import missing_tools

SIGN_UP_PASSWORD = "benchmark password"  # noqa: S105 - a throwaway account on a throwaway stack


def sleeper_on(api_url: str, folder: Path) -> Sleeper:
    import io

    import numpy as np
    from PIL import Image

    from launcher.client import CommonsClient

    client = CommonsClient(api_url, timeout=300)
    client.sign_up("bench", SIGN_UP_PASSWORD)
    client.sign_in("bench", SIGN_UP_PASSWORD)
    client.create_resource(name="sleeper", kind="hosts.sleeper", title="Sleeper", visibility="private")
    notes = folder / "notes.txt"
    notes.write_text("no weights")
    client.upload_version("sleeper", files=[notes], config={})
    photo = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo, format="PNG")
    return Sleeper(client=client, resource="sleeper", upload_id=str(client.upload("b.png", photo.getvalue())["id"]))


def submit(sleeper: Sleeper, lane: str) -> str:
    if lane == "warm":
        return sleeper.warm(seconds=0)
    task = sleeper.client.submit(
        resource=sleeper.resource, version=1, inputs=[sleeper.upload_id], params={"seconds": 0}, lane="batch"
    )
    return str(task["id"])


def finish(sleeper: Sleeper, task_id: str) -> None:
    task = sleeper.client.wait(task_id, timeout=600, poll=0.1)
    if task["status"] != "succeeded":
        raise RuntimeError(f"task {task_id} ended {task['status']}: {task.get('error')}")


def overhead(sleeper: Sleeper, lane: str, repeats: int) -> float:
    """Median seconds from submit to succeeded, one task at a time."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        finish(sleeper, submit(sleeper, lane))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def throughput(sleeper: Sleeper, lane: str, count: int) -> float:
    """Tasks per minute with `count` tasks submitted at once."""
    started = time.perf_counter()
    ids = [submit(sleeper, lane) for _ in range(count)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # waiting only: no child process starts on these threads
        list(pool.map(lambda task_id: finish(sleeper, task_id), ids))
    return count / (time.perf_counter() - started) * 60


def measure(hosts: int, *, tasks: int, repeats: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-hosts-{hosts}-"))
    begun = time.perf_counter()
    with cluster(root, hosts=hosts) as running:
        print(f"· {hosts} worker host(s) up in {time.perf_counter() - begun:.0f} s", flush=True)
        sleeper = sleeper_on(running.settings.api_url, root)
        finish(sleeper, submit(sleeper, "batch"))  # first runs: caches and imports warmed on one host at least
        finish(sleeper, submit(sleeper, "warm"))
        figures = {}
        for lane in ("batch", "warm"):
            figures[f"{lane}_overhead_s"] = overhead(sleeper, lane, repeats)
            figures[f"{lane}_per_minute"] = throughput(sleeper, lane, tasks)
            print(
                f"  {lane}: {figures[f'{lane}_per_minute']:.1f} tasks/min, {figures[f'{lane}_overhead_s']:.2f} s/task"
            )
        return figures


def main() -> None:
    parser = arguments(__doc__, tasks=8, repeats=3)
    parser.add_argument("--hosts", default="1,2", help="numbers of worker hosts to compare (comma-separated)")
    options = parser.parse_args()
    why = missing_tools()
    if why is not None:
        sys.exit(f"worker hosts are network namespaces: {why}")
    results = {int(n): measure(int(n), tasks=options.tasks, repeats=options.repeats) for n in options.hosts.split(",")}
    print(
        f"\n{os.cpu_count()} CPU core(s); {options.tasks} tasks at once per lane; "
        f"overhead = median of {options.repeats}"
    )
    print("hosts | batch tasks/min | warm tasks/min | batch s/task (alone) | warm s/task (alone)")
    for hosts, row in results.items():
        print(
            f"{hosts:5d} | {row['batch_per_minute']:15.1f} | {row['warm_per_minute']:14.1f} | "
            f"{row['batch_overhead_s']:20.2f} | {row['warm_overhead_s']:19.2f}"
        )


if __name__ == "__main__":
    main()
