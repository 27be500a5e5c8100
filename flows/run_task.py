"""The task flow: init → infer → publish, each step's state and times recorded on the task row.

This module is imported by the worker for every flow run, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import FlowRun, State
from prefect.flows import Flow
from prefect.states import Cancelled
from sqlmodel import Session

from commons.db import session_scope
from commons.errors import CommonsError, Conflict, ServiceUnavailable
from commons.settings import Settings, get_settings
from commons.store import ObjectStore, keys
from flows.heartbeat import heartbeat
from flows.prepare import Prepared, prepare
from flows.publish import build_manifest, upload_outputs, write_manifest
from registry import tasks as task_rows
from registry.models import Task

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_SECONDS = 0.5


def describe_error(error: BaseException) -> str:
    if isinstance(error, CommonsError):
        return error.message
    return f"internal error ({type(error).__name__}: {error}); the worker log has the details"


class TaskCancelled(Exception):
    """The task row was cancelled while the flow ran; the flow stops at the next check and publishes nothing."""


def stop_if_cancelled(task: Task) -> None:
    if task.status in task_rows.TERMINAL:
        raise TaskCancelled(f"task {task.id} ended ({task.status}) while running")


def _set_step(settings: Settings, task_id: str, name: str, status: str, *, unless_cancelled: bool = False) -> None:
    def change(session: Session, row: Task) -> None:
        if unless_cancelled:
            stop_if_cancelled(row)
        task_rows.set_step(session, task=row, name=name, status=status)

    task_rows.change_task(settings.resolved_database_url, task_id, change)


@contextmanager
def recorded_step(settings: Settings, task_id: str, name: str) -> Iterator[None]:
    _set_step(settings, task_id, name, "running", unless_cancelled=True)
    try:
        yield
    except BaseException as error:
        cancelled = isinstance(error, TaskCancelled) or not isinstance(error, Exception)
        _set_step(settings, task_id, name, "cancelled" if cancelled else "failed")
        raise
    _set_step(settings, task_id, name, "succeeded")


def _retry_on_unavailable(_task: Any, _task_run: Any, state: State) -> bool:
    try:
        state.result()
    except ServiceUnavailable:
        return True
    except Exception:
        return False
    return False


@task(name="init", retries=0, cache_policy=NONE)
def init_step(task_id: str) -> Prepared:
    from resources.sam.model import select_device

    settings = get_settings()
    with recorded_step(settings, task_id, "init"):
        return prepare(
            settings=settings, store=ObjectStore.from_settings(settings), task_id=task_id, device=select_device()
        )


@task(name="infer", retries=0, cache_policy=NONE)
def infer_step(prepared: Prepared) -> list[Path]:
    settings = get_settings()

    last_write = 0.0

    def on_progress(fraction: float) -> None:
        """Record progress and stop if the task was cancelled; at most twice a second."""
        nonlocal last_write
        now = time.monotonic()
        if fraction < 1 and now - last_write < PROGRESS_INTERVAL_SECONDS:
            return
        last_write = now

        def change(session: Session, row: Task) -> None:
            stop_if_cancelled(row)
            task_rows.set_progress(session, task=row, progress=(1 + fraction) / 3)

        task_rows.change_task(settings.resolved_database_url, prepared.task_id, change)

    with recorded_step(settings, prepared.task_id, "infer"):
        if prepared.kind == "segmenter.sam":
            from flows.sam_infer import infer_sam as runner
        elif prepared.kind == "classifier.resnet":
            from flows.classifier_infer import infer_classifier as runner
        else:
            raise Conflict(f"kind {prepared.kind!r} has no infer runner")
        return runner(prepared, max_image_pixels=settings.max_image_pixels, on_progress=on_progress)


@task(name="publish", retries=2, retry_delay_seconds=2, retry_condition_fn=_retry_on_unavailable, cache_policy=NONE)
def publish_step(prepared: Prepared, files: list[Path]) -> str | None:
    """Upload outputs, then the manifest last; a task cancelled meanwhile publishes nothing."""
    settings = get_settings()
    store = ObjectStore.from_settings(settings)
    with recorded_step(settings, prepared.task_id, "publish"):
        started = time.perf_counter()
        outputs = upload_outputs(store=store, prepared=prepared, files=files)
        prepared.timings["publish_s"] = round(time.perf_counter() - started, 4)
        with session_scope(settings.resolved_database_url) as session:
            row = task_rows.get_task(session, prepared.task_id)
            if row.status in task_rows.TERMINAL:
                store.delete_prefix(keys.task_prefix(prepared.task_id))
                return None
            steps = [dict(step) for step in row.steps]
        manifest = build_manifest(prepared=prepared, outputs=outputs, steps=steps)
        key = write_manifest(store=store, task_id=prepared.task_id, manifest=manifest)
    succeeded = task_rows.change_task(
        settings.resolved_database_url,
        prepared.task_id,
        lambda session, row: task_rows.finish(session, task=row, status="succeeded", outputs=outputs, manifest_key=key),
    )
    if not succeeded:
        store.delete_prefix(keys.task_prefix(prepared.task_id))  # cancelled at the last moment
        return None
    return key


def _current_flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return str(run_id) if run_id else None


def _end_task(task_id: str, *, status: str, error: str | None) -> None:
    task_rows.change_task(
        get_settings().resolved_database_url,
        task_id,
        lambda session, row: task_rows.finish(session, task=row, status=status, error=error),
    )


def _on_cancellation(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    _end_task(str(flow_run.parameters["task_id"]), status="cancelled", error="cancelled by request")


def _on_crashed(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    _end_task(
        str(flow_run.parameters["task_id"]),
        status="failed",
        error=f"the worker crashed: {state.message or 'no message'}",
    )


@flow(name="run-task", on_cancellation=[_on_cancellation], on_crashed=[_on_crashed], log_prints=True)
def run_task(task_id: str) -> str | State | None:
    """Run one task of the registry end to end; returns the manifest key, or a Cancelled state."""
    settings = get_settings()
    flow_run_id = _current_flow_run_id()
    started = task_rows.change_task(
        settings.resolved_database_url,
        task_id,
        lambda session, row: task_rows.mark_running(session, task=row, flow_run_id=flow_run_id),
    )
    if not started:
        return Cancelled(message=f"task {task_id} had already ended before it started")
    work_dir = settings.data_dir.resolve() / "work" / task_id
    try:
        with heartbeat(
            database_url=settings.resolved_database_url, task_id=task_id, every_seconds=settings.heartbeat_seconds
        ):
            prepared = init_step(task_id)
            files = infer_step(prepared)
            manifest_key = publish_step(prepared, files)
            if manifest_key is None:
                return Cancelled(message="task cancelled before its manifest was written; nothing published")
            return manifest_key
    except TaskCancelled as cancelled:
        return Cancelled(message=str(cancelled))
    except Exception as error:  # cancellation arrives as a BaseException and is left to the hook
        _end_task(task_id, status="failed", error=describe_error(error))
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
