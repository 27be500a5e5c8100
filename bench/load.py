"""Load benchmark: many clients reading while many tasks are submitted at once, on loopback only.

In one run, on an embedded stack started by the code of `commons up` (temporary folder, free ports):

- `--clients` (200) concurrent clients, each reading a task's status (GET /tasks/{id}) and the resource
  list (GET /resources) in turn, one request every `--interval` seconds (jittered), for `--duration` s;
- at the start of that window, `--submissions` (50) tasks submitted at once (one-photo SAM prompts, a tiny
  random-weight model, so the work itself is small and the platform is what is measured).

Prints read latency p50/p99 per route, submit latency, errors, tasks/s, and checks that every submitted task
ended `succeeded` exactly once: one task row each, one Prefect run that did its work each (a `run-task` flow
run, or a `run-task-warm-<id>` task run on the warm lane), one manifest.
Bounded: it stops after `--duration` s of reads and at most `--task-timeout` s of waiting for the tasks.
`--postgres` runs the registry on a scratch database of the PostgreSQL at 127.0.0.1:5432 (dropped after).

`--attack` measures slow request bodies instead (no tasks): `--clients` (50) readers, each reading the
resource list and the Explore page in turn about once a second, for `--duration` s on their own (after 5 s
not counted), then for `--duration` s more while `--attackers` (24, as many as the API's in-flight slots)
unauthenticated clients each send a request body one byte every `--trickle` (2) seconds, reconnecting
whenever the API cuts them off. Prints the readers' p50/p99 in both windows and their ratio, errors, and
what the attackers got back.

Usage: .venv/bin/python bench/load.py [--clients 200] [--submissions 50] [--duration 30] [--postgres]
       .venv/bin/python bench/load.py --attack [--clients 50] [--attackers 24] [--duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded import (
    bench_settings,
    percentile,
    png,
    publish_sam,
    random_sam,
    running,
    scratch_postgres,
    signed_in,
)
from commons.settings import Settings
from resources.sam.model import TINY_CONFIG

PARAMS: dict[str, Any] = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [[300, 200, 1]]}}


async def reader(
    base_url: str,
    headers: dict[str, str],
    routes: list[tuple[str, str]],
    deadline: float,
    interval: float,
    samples: dict[str, list[float]],
    timeout: float = 60,
) -> Counter[str]:
    """One client with its own connection (as a browser tab has): a client shared by all readers spends its
    CPU scanning one big connection pool and measures itself, not the API. `routes`: (label, url) read in turn."""
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=httpx.Limits(max_connections=1), timeout=timeout
    ) as http:
        return await _read_in_turn(http, routes, deadline, interval, samples)


async def _read_in_turn(
    http: httpx.AsyncClient,
    routes: list[tuple[str, str]],
    deadline: float,
    interval: float,
    samples: dict[str, list[float]],
) -> Counter[str]:
    errors: Counter[str] = Counter()
    await asyncio.sleep(random.uniform(0, interval))  # spread the clients over the first interval
    turn = random.randrange(len(routes))
    while time.monotonic() < deadline:
        route, url = routes[turn % len(routes)]
        turn += 1
        started = time.perf_counter()
        try:
            response = await http.get(url)
            samples[route].append(time.perf_counter() - started)
            if response.status_code != 200:
                errors[f"{route} {response.status_code}"] += 1
        except httpx.HTTPError as error:
            errors[f"{route} {type(error).__name__}"] += 1
        await asyncio.sleep(random.uniform(0.5, 1.5) * interval)
    return errors


async def submit_one(http: httpx.AsyncClient, upload_id: str) -> tuple[float, str | None, str | None]:
    started = time.perf_counter()
    try:
        response = await http.post(
            "/tasks",
            json={"resource": "load-sam", "version": 1, "inputs": [upload_id], "params": PARAMS},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    except httpx.HTTPError as error:
        return time.perf_counter() - started, None, type(error).__name__
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        return elapsed, None, f"POST /tasks {response.status_code}"
    return elapsed, response.json()["id"], None


async def run_load(
    args: argparse.Namespace, base_url: str, token: str, seed_task: str, upload_id: str
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.submissions)
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{base_url}/api/v1"
    async with httpx.AsyncClient(base_url=api, headers=headers, limits=limits, timeout=60) as http:
        samples: dict[str, list[float]] = defaultdict(list)
        deadline = time.monotonic() + args.duration
        routes = [("/tasks/{id}", f"/tasks/{seed_task}"), ("/resources", "/resources")]
        readers = [
            asyncio.create_task(reader(api, headers, routes, deadline, args.interval, samples))
            for _ in range(args.clients)
        ]
        submitted_at = time.monotonic()
        submissions = await asyncio.gather(*(submit_one(http, upload_id) for _ in range(args.submissions)))
        errors: Counter[str] = Counter()
        for counts in await asyncio.gather(*readers):
            errors.update(counts)
        task_ids = [task_id for _, task_id, _ in submissions if task_id]
        errors.update(error for _, _, error in submissions if error)
        finished: dict[str, dict[str, Any]] = {}
        wait_until = time.monotonic() + args.task_timeout
        while len(finished) < len(task_ids) and time.monotonic() < wait_until:
            for task_id in task_ids:
                if task_id not in finished:
                    row = (await http.get(f"/tasks/{task_id}")).json()
                    if row["status"] in ("succeeded", "failed", "cancelled"):
                        finished[task_id] = row
            await asyncio.sleep(0.5)
        all_done_at = time.monotonic()
    return {
        "samples": samples,
        "errors": errors,
        "submit_latency": [elapsed for elapsed, _, _ in submissions],
        "task_ids": task_ids,
        "finished": finished,
        "span": all_done_at - submitted_at,
    }


def runs_per_task(prefect_api_url: str, task_ids: list[str]) -> tuple[Counter[str], Counter[str]]:
    """Per task: the Prefect runs that did its work (a Completed `run-task` flow run on the batch lane, a
    Completed `run-task-warm-<task id>` task run on the warm lane) and all runs delivered for it (a second
    delivery finds the task claimed and ends Cancelled without doing anything)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, TaskRunFilter, TaskRunFilterName
    from prefect.client.schemas.objects import StateType

    wanted = set(task_ids)
    worked: Counter[str] = Counter()
    delivered: Counter[str] = Counter()

    def count(task_id: str | None, state_type: StateType | None) -> None:
        if task_id in wanted:
            delivered[task_id] += 1
            worked[task_id] += state_type == StateType.COMPLETED

    with SyncPrefectClient(prefect_api_url) as client:
        for offset in range(0, 100_000, 200):
            flow_runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["run-task"])), limit=200, offset=offset
            )
            for flow_run in flow_runs:
                count(flow_run.parameters.get("task_id"), flow_run.state_type)
            if len(flow_runs) < 200:
                break
        for offset in range(0, 100_000, 200):
            task_runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="run-task-warm-")), limit=200, offset=offset
            )
            for task_run in task_runs:
                count(task_run.name.removeprefix("run-task-warm-"), task_run.state_type)
            if len(task_runs) < 200:
                break
    return worked, delivered


def command_line() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=None, help="readers (200; --attack: 50)")
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=None, help="seconds of reads (30; --attack: 20 a window)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between one client's reads")
    parser.add_argument("--task-timeout", type=float, default=900.0)
    parser.add_argument("--postgres", action="store_true", help="registry on a scratch PostgreSQL database")
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy the servers' logs to this folder")
    parser.add_argument("--attack", action="store_true", help="readers alone, then with slow-body clients")
    parser.add_argument("--attackers", type=int, default=24, help="--attack: slow-body clients")
    parser.add_argument("--trickle", type=float, default=2.0, help="--attack: seconds between an attacker's bytes")
    args = parser.parse_args()
    args.clients = args.clients or (50 if args.attack else 200)
    args.duration = args.duration or (20.0 if args.attack else 30.0)
    for name in ("clients", "submissions", "duration", "interval", "task_timeout", "attackers", "trickle"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def main() -> None:
    args = command_line()
    if args.attack:
        attack_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="commons-load-") as folder, scratch_postgres(args.postgres) as db:
        root = Path(folder)
        weights = random_sam(root, TINY_CONFIG)
        # the bench's one user submits every task at once (COMMONS_MAX_ACTIVE_TASKS)
        settings = bench_settings(root, database_url=db, max_active_tasks=100_000)
        try:
            with running(settings):
                client, token = signed_in(settings, "load")
                publish_sam(client, "load-sam", "load", weights, TINY_CONFIG)
                upload_id = client.upload("coffee.png", png(np.asarray(skdata.coffee())))["id"]
                seed = client.submit(resource="load-sam", version=1, inputs=[upload_id], params=PARAMS)
                client.wait(seed["id"], timeout=600)
                result = asyncio.run(run_load(args, settings.api_url, token, seed["id"], upload_id))
                worked, delivered = runs_per_task(settings.resolved_prefect_api_url, result["task_ids"])
                client.close()
        finally:
            if args.keep_logs is not None:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in (root / "stack").rglob("*.log"):
                    (args.keep_logs / log.name).write_bytes(log.read_bytes())
    print_load(args, result, worked, delivered)


def print_load(args: argparse.Namespace, result: dict[str, Any], worked: Counter[str], delivered: Counter[str]) -> None:
    """The load run's figures: read and submit latencies, errors, tasks/s, and whether each task ran once."""
    manifests = sum(1 for row in result["finished"].values() if row.get("manifest_url"))
    print(
        f"\n{args.clients} readers (one request per ~{args.interval:g} s each) for {args.duration:g} s, "
        f"{args.submissions} submissions at once; registry on {'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    reads = [value for values in result["samples"].values() for value in values]
    for route, values in sorted(result["samples"].items()):
        print(
            f"  GET {route:<12} n={len(values):6d}  p50 {percentile(values, 0.5) * 1000:7.1f} ms  "
            f"p99 {percentile(values, 0.99) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms"
        )
    print(
        f"  all reads          n={len(reads):6d}  p50 {percentile(reads, 0.5) * 1000:7.1f} ms  "
        f"p99 {percentile(reads, 0.99) * 1000:7.1f} ms   (goal p99 < 50 ms)"
    )
    print(f"  reads/s {len(reads) / args.duration:.1f}")
    submits = result["submit_latency"]
    print(
        f"  POST /tasks        n={len(submits):6d}  p50 {statistics.median(submits) * 1000:7.1f} ms  "
        f"p99 {percentile(submits, 0.99) * 1000:7.1f} ms"
    )
    print(f"  errors: {sum(result['errors'].values())} {dict(result['errors']) or ''}")
    statuses = Counter(row["status"] for row in result["finished"].values())
    done = statuses.get("succeeded", 0)
    print(
        f"  tasks: {len(result['task_ids'])} submitted, {dict(statuses)}, "
        f"{len(result['task_ids']) - len(result['finished'])} unfinished at the timeout"
    )
    print(f"  tasks/s (submit of the first → end of the last): {done / result['span']:.2f}")
    lanes = Counter(row.get("lane") for row in result["finished"].values())
    per_task = Counter(worked.get(task_id, 0) for task_id in result["task_ids"])
    refused = sum(delivered.values()) - sum(worked.values())
    print(f"  lanes: {dict(lanes)}; Prefect runs that did the work, per task: {dict(per_task)}")
    once = [task_id for task_id in result["task_ids"] if worked.get(task_id) == 1]
    print(
        f"  exactly once: {len(once)}/{len(result['task_ids'])} tasks were worked by exactly one run "
        f"({refused} second deliveries refused by the claim); {manifests} manifests"
    )


ATTACK_BODY_BYTES = 100_000
WARM_UP_SECONDS = 5.0  # the readers' first requests (connections, caches) are not counted
ATTACK_LEAD_SECONDS = 3.0  # the attackers connect and start trickling before the readers' window opens


async def slow_body_client(host: str, port: int, deadline: float, trickle: float, outcomes: Counter[str]) -> None:
    """One unauthenticated client sending a JSON body one byte every `trickle` s until the API answers or closes
    the connection; it then reconnects and starts again, until `deadline`."""
    head = (
        f"POST /api/v1/tasks HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {ATTACK_BODY_BYTES}\r\n\r\n"
    ).encode()
    while time.monotonic() < deadline:
        writer: asyncio.StreamWriter | None = None
        try:
            answers, writer = await asyncio.open_connection(host, port)
            writer.write(head)
            await writer.drain()
            outcome = "still sending at the end"
            while (left := deadline - time.monotonic()) > 0:
                try:
                    line = await asyncio.wait_for(answers.readline(), timeout=min(trickle, left))
                except TimeoutError:
                    writer.write(b" ")
                    await writer.drain()
                    continue
                outcome = f"answered {line.split()[1].decode()}" if line else "closed by the API"
                break
            outcomes[outcome] += 1
        except OSError as error:
            outcomes[type(error).__name__] += 1
            await asyncio.sleep(0.5)
        finally:
            if writer is not None:
                writer.close()


async def read_window(
    args: argparse.Namespace, settings: Settings, token: str, attackers: int, duration: float
) -> tuple[dict[str, list[float]], Counter[str], Counter[str]]:
    """`args.clients` readers for `duration` s, with `attackers` slow-body clients connected throughout."""
    outcomes: Counter[str] = Counter()
    lead = ATTACK_LEAD_SECONDS if attackers else 0.0
    until = time.monotonic() + lead + duration
    slow = [
        asyncio.create_task(slow_body_client(settings.host, settings.api_port, until, args.trickle, outcomes))
        for _ in range(attackers)
    ]
    await asyncio.sleep(lead)
    samples: dict[str, list[float]] = defaultdict(list)
    routes = [("/api/v1/resources", "/api/v1/resources"), ("/explore (page)", "/explore")]
    deadline = time.monotonic() + duration
    headers = {"Authorization": f"Bearer {token}"}
    errors: Counter[str] = Counter()
    readers = [
        reader(settings.api_url, headers, routes, deadline, args.interval, samples, timeout=10)
        for _ in range(args.clients)
    ]
    for counts in await asyncio.gather(*readers):
        errors.update(counts)
    await asyncio.gather(*slow)
    return samples, errors, outcomes


def attack_main(args: argparse.Namespace) -> None:
    """Readers alone, then with slow-body clients, on one embedded stack; prints both and their ratio."""
    with tempfile.TemporaryDirectory(prefix="commons-attack-") as folder:
        settings = bench_settings(Path(folder))
        with running(settings):
            client, token = signed_in(settings, "load", timeout=60)
            for index in range(20):  # a list worth reading
                client.create_resource(
                    name=f"attack-{index}", kind="segmenter.sam", title=f"Model {index}", visibility="public"
                )
            client.close()
            asyncio.run(read_window(args, settings, token, attackers=0, duration=WARM_UP_SECONDS))  # not counted
            quiet = asyncio.run(read_window(args, settings, token, attackers=0, duration=args.duration))
            attacked = asyncio.run(read_window(args, settings, token, attackers=args.attackers, duration=args.duration))

    print(
        f"\n{args.clients} readers (one request per ~{args.interval:g} s each, the resource list and the Explore "
        f"page in turn), {args.duration:g} s alone, then {args.duration:g} s with {args.attackers} unauthenticated "
        f"clients sending a body one byte every {args.trickle:g} s (API in-flight slots: "
        f"{settings.api_max_in_flight}; body timeout {settings.body_timeout_seconds:g} s)"
    )
    figures = {}
    for label, (samples, errors, outcomes) in (("alone", quiet), ("under attack", attacked)):
        reads = [value for values in samples.values() for value in values]
        figures[label] = (percentile(reads, 0.5), percentile(reads, 0.99))
        print(
            f"  {label:<13} n={len(reads):5d}  p50 {figures[label][0] * 1000:7.1f} ms  "
            f"p99 {figures[label][1] * 1000:7.1f} ms  max {max(reads, default=float('nan')) * 1000:7.1f} ms  "
            f"errors {sum(errors.values())} {dict(errors) or ''}"
        )
        if outcomes:
            print(f"  {'':<13} attackers' connections: {dict(outcomes)}")
    (quiet50, quiet99), (attack50, attack99) = figures["alone"], figures["under attack"]
    print(f"  ratio (under attack / alone): p50 ×{attack50 / quiet50:.2f}, p99 ×{attack99 / quiet99:.2f}")


if __name__ == "__main__":
    main()
