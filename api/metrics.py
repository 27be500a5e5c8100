"""Prometheus metrics at `GET /metrics` (unauthenticated; off with `COMMONS_METRICS_ENABLED=false`).

Request metrics are this API process's own. Task metrics are read from the database at scrape time by one
grouped query, so they are the same from every API replica and survive restarts.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Float, cast, extract, func, select
from sqlmodel import col
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import HttpMiddleware
from commons.db import get_engine
from commons.logging import log_context
from commons.settings import Settings
from registry.models import Resource, Task

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "unmatched"  # a request no route matched (a 404): never the raw path, whose ids are unbounded
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LANES = ("warm", "batch")
QUEUED = ("pending", "scheduled")
MAX_REQUEST_ID = 64


def install_metrics(app: FastAPI, settings: Settings) -> None:
    """Time every request (and give it a request id for the logs); serve `/metrics` unless disabled."""
    registry = CollectorRegistry(auto_describe=False)
    duration = Histogram(
        "commons_http_request_duration_seconds",
        "Time from request to the end of the response, by method, route template and status code.",
        ["method", "route", "status"],
        buckets=REQUEST_BUCKETS,
        registry=registry,
    )
    in_flight = Gauge("commons_http_requests_in_flight", "Requests being served now.", registry=registry)
    app.add_middleware(RequestMetrics, duration=duration, in_flight=in_flight)
    if not settings.metrics_enabled:
        return
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(TaskCollector(settings.resolved_database_url))

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/tasks/{task_id}`), or `unmatched`."""
    # FastAPI keeps an included router's routes as they were declared (`/{task_id}`, without the prefixes) in
    # scope["route"]; the matched route with its full template is its "effective route context".
    fastapi_scope = scope.get("fastapi")
    effective = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    for route in (effective, scope.get("route")):
        template = getattr(route, "path_format", None)
        if isinstance(template, str) and template:
            return template
    return UNMATCHED_ROUTE


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if 0 < len(text) <= MAX_REQUEST_ID and text.isprintable():
                return text
    return uuid.uuid4().hex


# nginx's status for a client that closed the connection before the answer: not the server's fault.
CLIENT_CLOSED_REQUEST = 499


class RequestMetrics(HttpMiddleware):
    """ASGI middleware: latency by (method, route template, status), requests in flight, `X-Request-ID`.

    Log records emitted while a request is served carry `request_id` and `route`.
    """

    def __init__(self, app: ASGIApp, *, duration: Histogram, in_flight: Gauge) -> None:
        super().__init__(app)
        self.duration, self.in_flight = duration, in_flight

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        status = 500  # unless a response starts: an exception that escapes every handler
        gone = False  # the client hung up before anything was answered: 499, not a server error

        async def receive_watching() -> Message:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
            return message

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        started = time.perf_counter()
        self.in_flight.inc()
        try:
            with log_context(request_id=request_id, route=lambda: route_template(scope)):
                await self.app(scope, receive_watching, send_with_status)
        finally:
            self.in_flight.dec()
            if gone and status == 500:
                status = CLIENT_CLOSED_REQUEST
            self.duration.labels(scope["method"], route_template(scope), str(status)).observe(
                time.perf_counter() - started
            )


class TaskCollector(Collector):
    """Task counts, durations, queue depth and content-cache use, from one grouped query at scrape time.

    Cache use is what the worker recorded on the task row: `steps[0]` (the init step) holds
    `"cache": {"hit": n, "miss": n}` over the weights, inputs and dataset photos it fetched
    (flows/steps/cache_use.py).
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def describe(self) -> Iterable[Metric]:
        return []  # no query when registering

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily("commons_task_query_ok", "1 when the task metrics' database query succeeded.")
        try:
            rows = self._query()
        except Exception:
            log.exception("task metrics: the database query failed")
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok
        yield from task_families(rows)

    def _query(self) -> list[Any]:
        engine = get_engine(self.database_url)
        steps: Any = col(Task.steps)
        if engine.dialect.name == "sqlite":
            seconds: Any = (func.julianday(col(Task.finished_at)) - func.julianday(col(Task.started_at))) * 86400.0
        else:
            seconds = cast(extract("epoch", col(Task.finished_at) - col(Task.started_at)), Float)
        statement = (
            select(
                func.coalesce(col(Resource.kind), "dataset"),  # dataset-only tasks (augment) run no resource
                col(Task.mode),
                col(Task.status),
                col(Task.lane),
                func.count(),
                func.count(seconds),
                func.sum(seconds),
                func.sum(steps[(0, "cache", "hit")].as_integer()),
                func.sum(steps[(0, "cache", "miss")].as_integer()),
            )
            .outerjoin(Resource, col(Resource.id) == col(Task.resource_id))
            .group_by(Resource.kind, Task.mode, Task.status, Task.lane)
        )
        with engine.connect() as connection:
            return list(connection.execute(statement).all())


def task_families(rows: Iterable[Any]) -> Iterator[Metric]:
    """Metric families from rows of (kind, mode, status, lane, tasks, timed, seconds, cache hits, misses)."""
    tasks: dict[tuple[str, str, str], int] = defaultdict(int)
    timed: dict[tuple[str, str, str], tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    queue: dict[tuple[str, str], int] = {(lane, status): 0 for lane in LANES for status in QUEUED}
    cache: dict[tuple[str, str, str], int] = defaultdict(int)
    for kind, mode, status, lane, count, timed_count, seconds, hits, misses in rows:
        tasks[(kind, mode, status)] += count
        if timed_count:
            done, total = timed[(kind, mode, status)]
            timed[(kind, mode, status)] = (done + timed_count, total + float(seconds or 0.0))
        if status in QUEUED:
            queue[(lane, status)] = queue.get((lane, status), 0) + count
        if hits is not None:
            cache[(kind, mode, "hit")] += int(hits)
        if misses is not None:
            cache[(kind, mode, "miss")] += int(misses)

    by_kind = GaugeMetricFamily(
        "commons_tasks", "Tasks in the registry by resource kind, mode and status.", labels=["kind", "mode", "status"]
    )
    for labels, count in sorted(tasks.items()):
        by_kind.add_metric(list(labels), count)
    yield by_kind

    by_status = GaugeMetricFamily("commons_tasks_by_status", "Tasks in the registry by status.", labels=["status"])
    statuses: dict[str, int] = defaultdict(int)
    for (_, _, status), count in tasks.items():
        statuses[status] += count
    for status, count in sorted(statuses.items()):
        by_status.add_metric([status], count)
    yield by_status

    durations = SummaryMetricFamily(
        "commons_task_duration_seconds",
        "Run time (finished_at - started_at) of tasks that started and ended, by kind, mode and status.",
        labels=["kind", "mode", "status"],
    )
    for labels, (count, total) in sorted(timed.items()):
        durations.add_metric(list(labels), count_value=count, sum_value=total)
    yield durations

    depth = GaugeMetricFamily(
        "commons_task_queue_depth", "Tasks waiting to run (pending or scheduled), by lane.", labels=["lane", "status"]
    )
    for (lane, status), count in sorted(queue.items()):
        depth.add_metric([lane, status], count)
    yield depth

    fetches = CounterMetricFamily(
        "commons_cache_fetches",
        "Files (weights, inputs, dataset photos) that tasks took from the worker's content cache (hit) or "
        "downloaded from the object store (miss), by kind and mode.",
        labels=["kind", "mode", "result"],
    )
    for labels, count in sorted(cache.items()):
        fetches.add_metric(list(labels), count)
    yield fetches
