"""Prometheus /metrics: request latency by route template, task counts and durations from the database,
queue depth by lane, the worker's content-cache hits; on both database backends."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select

from api.app import create_app
from api.metrics import TaskCollector
from commons.db import get_engine
from commons.settings import Settings
from registry.clock import utcnow
from registry.models import Resource, ResourceVersion, Task
from registry.resources import create_resource
from registry.schemas import ResourceCreate
from registry.users import create_user
from tests.api.conftest import AUTO_PARAMS, Published
from tests.conftest import RunningStack

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
TASK_ROUTE = "/api/v1/tasks/{task_id}"


def parse(text: str) -> Samples:
    """Every sample as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def with_name(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (sample, labels), v in samples.items() if sample == name}


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


# --- the collector on a database with known rows ---------------------------------------------------------


def steps(cache: dict[str, int] | None = None) -> list[dict[str, Any]]:
    init: dict[str, Any] = {"name": "init", "status": "succeeded", "started_at": None, "finished_at": None}
    if cache is not None:
        init["cache"] = cache
    return [init, {"name": "infer", "status": "succeeded", "started_at": None, "finished_at": None}]


def test_task_metrics_come_from_the_database(database_url: str) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        sam = create_resource(session, owner=owner, spec=ResourceCreate(name="sam", kind="segmenter.sam", title="S"))
        cnn = create_resource(
            session, owner=owner, spec=ResourceCreate(name="cnn", kind="classifier.resnet", title="C")
        )
        versions = {}
        for resource in (sam, cnn):
            version = ResourceVersion(resource_id=resource.id, number=1, digest="sha256:x", created_by=owner.id)
            session.add(version)
            versions[resource.id] = version
        session.flush()
        start = utcnow() - timedelta(hours=1)

        def add(resource: Resource, mode: str, status: str, lane: str, seconds: float | None, **fields: Any) -> None:
            started = start if seconds is not None or status == "running" else None
            finished = start + timedelta(seconds=seconds) if seconds is not None else None
            session.add(
                Task(
                    owner_id=owner.id,
                    resource_id=resource.id,
                    version_id=versions[resource.id].id,
                    mode=mode,
                    status=status,
                    lane=lane,
                    started_at=started,
                    finished_at=finished,
                    **fields,
                )
            )

        add(sam, "infer", "succeeded", "warm", 2.5, steps=steps({"hit": 1, "miss": 2}))
        add(sam, "infer", "succeeded", "batch", 1.25, steps=steps({"hit": 3, "miss": 0}))
        add(sam, "infer", "failed", "warm", 0.5, steps=steps())
        add(sam, "infer", "pending", "warm", None)
        add(sam, "infer", "pending", "batch", None)
        add(sam, "infer", "scheduled", "batch", None)
        add(sam, "infer", "running", "warm", None, steps=steps({"hit": 0, "miss": 1}))
        add(cnn, "train", "succeeded", "batch", 10.0, steps=steps({"hit": 5, "miss": 7}))
        add(cnn, "train", "cancelled", "batch", None)  # cancelled before it started: counted, not timed
        session.commit()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(TaskCollector(database_url))
    samples = parse(generate_latest(registry).decode())

    assert value(samples, "commons_task_query_ok") == 1
    assert with_name(samples, "commons_tasks") == {
        (("kind", "classifier.resnet"), ("mode", "train"), ("status", "cancelled")): 1,
        (("kind", "classifier.resnet"), ("mode", "train"), ("status", "succeeded")): 1,
        (("kind", "segmenter.sam"), ("mode", "infer"), ("status", "failed")): 1,
        (("kind", "segmenter.sam"), ("mode", "infer"), ("status", "pending")): 2,
        (("kind", "segmenter.sam"), ("mode", "infer"), ("status", "running")): 1,
        (("kind", "segmenter.sam"), ("mode", "infer"), ("status", "scheduled")): 1,
        (("kind", "segmenter.sam"), ("mode", "infer"), ("status", "succeeded")): 2,
    }
    assert with_name(samples, "commons_tasks_by_status") == {
        (("status", "cancelled"),): 1,
        (("status", "failed"),): 1,
        (("status", "pending"),): 2,
        (("status", "running"),): 1,
        (("status", "scheduled"),): 1,
        (("status", "succeeded"),): 3,
    }
    sam_ok = {"kind": "segmenter.sam", "mode": "infer", "status": "succeeded"}
    assert value(samples, "commons_task_duration_seconds_count", **sam_ok) == 2
    assert value(samples, "commons_task_duration_seconds_sum", **sam_ok) == pytest.approx(3.75, abs=0.01)
    failed = {**sam_ok, "status": "failed"}
    assert value(samples, "commons_task_duration_seconds_sum", **failed) == pytest.approx(0.5, abs=0.01)
    trained = {"kind": "classifier.resnet", "mode": "train", "status": "succeeded"}
    assert value(samples, "commons_task_duration_seconds_sum", **trained) == pytest.approx(10.0, abs=0.01)
    timed = {dict(labels)["status"] for labels in with_name(samples, "commons_task_duration_seconds_count")}
    assert timed == {"succeeded", "failed"}, "a task without both start and end has no duration"

    assert with_name(samples, "commons_task_queue_depth") == {
        (("lane", "batch"), ("status", "pending")): 1,
        (("lane", "batch"), ("status", "scheduled")): 1,
        (("lane", "warm"), ("status", "pending")): 1,
        (("lane", "warm"), ("status", "scheduled")): 0,
    }
    assert with_name(samples, "commons_cache_fetches_total") == {
        (("kind", "classifier.resnet"), ("mode", "train"), ("result", "hit")): 5,
        (("kind", "classifier.resnet"), ("mode", "train"), ("result", "miss")): 7,
        (("kind", "segmenter.sam"), ("mode", "infer"), ("result", "hit")): 4,
        (("kind", "segmenter.sam"), ("mode", "infer"), ("result", "miss")): 3,
    }


# --- the endpoint in-process: route templates, request ids, switching off ---------------------------------


async def in_process(settings: Settings, paths: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    """GET each path from the app in this process, in order; no lifespan: no Prefect or reaper behind it."""
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://commons.test") as client:
        return [await client.get(path, headers=headers) for path, headers in paths]


def test_requests_are_labelled_by_route_template_and_metrics_can_be_switched_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first, second, missing, made_up, response = asyncio.run(
        in_process(
            settings,
            [
                ("/api/v1/tasks/a1b2c3", {}),
                ("/api/v1/tasks/d4e5f6", {}),
                ("/no/such/page-7f3a", {"X-Request-ID": "req-42"}),
                ("/no/such/page", {}),
                ("/metrics", {}),
            ],
        )
    )
    assert first.status_code == second.status_code == 401
    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "req-42"
    assert len(made_up.headers["X-Request-ID"]) == 32, "a request id is made up when the client sends none"

    assert response.status_code == 200
    samples = parse(response.text)
    count = "commons_http_request_duration_seconds_count"
    assert value(samples, count, method="GET", route=TASK_ROUTE, status="401") == 2
    assert value(samples, count, method="GET", route="unmatched", status="404") == 2
    routes = {dict(labels)["route"] for labels in with_name(samples, count)}
    assert not any("a1b2c3" in r or "page-7f3a" in r for r in routes), routes
    assert value(samples, "commons_http_requests_in_flight") == 1, "the scrape itself is in flight"
    assert value(samples, "commons_task_query_ok") == 0, "no migrated database here: the scrape still answers"

    off, schema = asyncio.run(
        in_process(settings.model_copy(update={"metrics_enabled": False}), [("/metrics", {}), ("/openapi.json", {})])
    )
    assert off.status_code == 404
    assert "/metrics" not in schema.json()["paths"]


# --- against the running stack ----------------------------------------------------------------------------


def database_view(database_url: str) -> tuple[Counter[tuple[str, str, str]], dict[tuple[str, str, str], float]]:
    """Task counts and summed durations by (kind, mode, status), computed here in Python from the rows; a task on
    a dataset alone (augment) runs no resource and counts as kind "dataset"."""
    counts: Counter[tuple[str, str, str]] = Counter()
    seconds: dict[tuple[str, str, str], float] = {}
    with Session(get_engine(database_url)) as session:
        kinds = {resource.id: resource.kind for resource in session.exec(select(Resource)).all()}
        for task in session.exec(select(Task)).all():
            key = (kinds[task.resource_id] if task.resource_id else "dataset", task.mode, task.status)
            counts[key] += 1
            if task.started_at is not None and task.finished_at is not None:
                seconds[key] = seconds.get(key, 0.0) + (task.finished_at - task.started_at).total_seconds()
    return counts, seconds


def stable_scrape(
    stack: RunningStack,
) -> tuple[Samples, Counter[tuple[str, str, str]], dict[tuple[str, str, str], float]]:
    """A scrape and the database read between two scrapes that agree (other tests' tasks may still be moving)."""
    for _ in range(20):
        first = scrape(stack.settings.api_url)
        counts, seconds = database_view(stack.settings.resolved_database_url)
        second = scrape(stack.settings.api_url)
        if with_name(first, "commons_tasks") == with_name(second, "commons_tasks"):
            return second, counts, seconds
        time.sleep(0.5)
    raise AssertionError("task metrics never held still for two scrapes")


def run_to_end(stack: RunningStack, published: Published, client: Any, upload_id: str) -> dict[str, Any]:
    task = client.submit(
        resource=published.name, version=published.version["version"], inputs=[upload_id], params=AUTO_PARAMS
    )
    events = list(client.events(task["id"]))
    assert events[-1]["status"] == "succeeded", events[-1]["error"]
    return dict(task)


# The task metrics' queries run on both backends in test_task_metrics_come_from_the_database.
@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
def test_metrics_after_tasks_ran(stack: RunningStack, published: Published, coffee_png: bytes) -> None:
    published.provider.grant(published.name, "*", "use")
    scientist = stack.new_user()
    upload = scientist.upload("coffee.png", coffee_png)
    first = run_to_end(stack, published, scientist, upload["id"])
    before = scrape(stack.settings.api_url)
    second = run_to_end(stack, published, scientist, upload["id"])
    polls = 3
    for _ in range(polls):
        scientist.task(second["id"])
    after, counts, seconds = stable_scrape(stack)

    count = "commons_http_request_duration_seconds_count"
    read = {"method": "GET", "route": TASK_ROUTE, "status": "200"}
    assert value(after, count, **read) - value(before, count, **read) == polls
    assert value(after, "commons_http_request_duration_seconds_bucket", **read, le="+Inf") == value(
        after, count, **read
    )
    submitted = {"method": "POST", "route": "/api/v1/tasks", "status": "202"}
    assert value(after, count, **submitted) - value(before, count, **submitted) >= 1
    assert value(after, "commons_http_request_duration_seconds_sum", **read) > 0
    routes = {dict(labels)["route"] for labels in with_name(after, count)}
    assert not any(first["id"] in r or second["id"] in r for r in routes), "route templates, never raw paths"
    assert value(after, "commons_http_requests_in_flight") >= 1

    by_kind = {
        (dict(labels)["kind"], dict(labels)["mode"], dict(labels)["status"]): v
        for labels, v in with_name(after, "commons_tasks").items()
    }
    assert by_kind == dict(counts)
    assert by_kind[("segmenter.sam", "infer", "succeeded")] >= 2
    for (kind, mode, status), total in seconds.items():
        labels = {"kind": kind, "mode": mode, "status": status}
        assert value(after, "commons_task_duration_seconds_sum", **labels) == pytest.approx(total, abs=0.01)
    sam_ok = {"kind": "segmenter.sam", "mode": "infer", "status": "succeeded"}
    assert (
        value(after, "commons_task_duration_seconds_count", **sam_ok) == counts[("segmenter.sam", "infer", "succeeded")]
    )
    assert value(after, "commons_task_duration_seconds_sum", **sam_ok) > 0

    lanes = {dict(labels)["lane"] for labels in with_name(after, "commons_task_queue_depth")}
    assert lanes >= {"warm", "batch"}

    with Session(get_engine(stack.settings.resolved_database_url)) as session:
        rows = session.exec(
            select(Task).join(Resource).where(Resource.kind == "segmenter.sam", Task.mode == "infer")
        ).all()
        recorded = [row.steps[0]["cache"] for row in rows if "cache" in row.steps[0]]
        second_row = session.get(Task, second["id"])
        assert second_row is not None
        second_cache = second_row.steps[0]["cache"]
    assert second_cache == {"hit": 2, "miss": 0}, "the same weights and photo again: both from the worker's cache"
    hits = {"kind": "segmenter.sam", "mode": "infer", "result": "hit"}
    misses = {**hits, "result": "miss"}
    assert value(after, "commons_cache_fetches_total", **hits) == sum(c["hit"] for c in recorded)
    assert value(after, "commons_cache_fetches_total", **misses) == sum(c["miss"] for c in recorded)
    assert (
        value(after, "commons_cache_fetches_total", **hits) - value(before, "commons_cache_fetches_total", **hits) >= 2
    )


def test_a_client_that_hangs_up_mid_body_is_no_server_error(stack: RunningStack) -> None:
    """Seen: a client that sent half a body and closed was counted as a 500 — any client could raise the 5xx
    rate at will. It is counted as 499 (client closed request), as nginx does."""
    count = "commons_http_request_duration_seconds_count"
    before = scrape(stack.settings.api_url)
    url = httpx.URL(stack.settings.api_url)
    for _ in range(2):
        with socket.create_connection((url.host, url.port), timeout=10) as raw:
            raw.sendall(
                b"POST /api/v1/blocks/validate HTTP/1.1\r\nHost: commons\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n" + b'{"input"'
            )
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while True:
        after = scrape(stack.settings.api_url)
        closed = sum(v for labels, v in with_name(after, count).items() if dict(labels)["status"] == "499")
        closed_before = sum(v for labels, v in with_name(before, count).items() if dict(labels)["status"] == "499")
        if closed - closed_before >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert closed - closed_before >= 2, with_name(after, count)

    def server_errors(samples: Samples) -> dict[tuple[tuple[str, str], ...], float]:
        return {labels: v for labels, v in with_name(samples, count).items() if dict(labels)["status"][0] == "5"}

    errors, errors_before = server_errors(after), server_errors(before)
    assert errors == errors_before, "a client hanging up is not a server error"
