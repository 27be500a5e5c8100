"""The task's run: init → the mode's step (infer, train, evaluate, export, inspect, edit, augment) → publish.

Each step's state and times are recorded on the task row. On the batch lane the run is the `run-task` flow
(a flow run per task, its steps as Prefect task runs); on the warm lane it is one Prefect task run inside a
long-lived worker (flows/warm_lane.py), the steps plain calls: the same code, without a flow run's start-up.

This module is imported by the worker for every flow run, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import FlowRun, State
from prefect.flows import Flow
from prefect.logging import get_run_logger
from prefect.states import Cancelled
from sqlmodel import Session

from commons.errors import CommonsError, ServiceUnavailable
from commons.logging import configure_logging, task_context
from commons.settings import Settings, get_settings
from commons.store import ObjectStore, keys
from flows.kinds import KINDS
from flows.steps.cache_use import record_cache_use
from flows.steps.gpu_slots import gpu_slots
from flows.steps.heartbeat import heartbeat
from flows.steps.prepare import Prepared, prepare, work_folder
from flows.steps.publish import build_manifest, publish_product, upload_outputs, write_manifest
from flows.steps.reporting import Reporter, TaskCancelled, stop_if_cancelled
from flows.steps.reproduction import against_reported, against_task, outputs_digests, read_figures, write_report
from registry import tasks as task_rows
from registry.models import Task
from registry.vocabulary import Mode, TaskStatus

log = logging.getLogger(__name__)


def describe_error(error: BaseException) -> str:
    if isinstance(error, CommonsError):
        return error.message
    return f"internal error ({type(error).__name__}: {error}); the worker log has the details"


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


def init(task_id: str) -> Prepared:
    """Fetch the task's inputs, weights (through the content cache) and dataset into its work folder."""
    from resources.device import select_device

    settings = get_settings()
    with recorded_step(settings, task_id, "init"):
        prepared = prepare(
            settings=settings, store=ObjectStore.from_settings(settings), task_id=task_id, device=select_device()
        )
        record_cache_use(settings.resolved_database_url, prepared)
        return prepared


def work(prepared: Prepared) -> list[Path]:
    """The kind's runner for the task's mode, holding the task's GPU slots on this host, then, for a
    reproduction or a version with reported figures, `reproduction.json`."""
    settings = get_settings()
    report = Reporter(database_url=settings.resolved_database_url, task_id=prepared.task_id)
    with recorded_step(settings, prepared.task_id, prepared.mode):
        runner = KINDS.runner(prepared.kind, prepared.mode)
        with gpu_slots(
            settings=settings,
            execution=prepared.resource.execution if prepared.resource else None,
            device=prepared.device,
        ):
            files = runner(prepared, max_image_pixels=settings.max_image_pixels, report=report)
        reproduction = reproduction_report(prepared, files)
        if reproduction is not None:
            files.append(write_report(report=reproduction, out_root=prepared.outputs))
        return files


def reproduction_report(prepared: Prepared, files: list[Path]) -> dict[str, Any] | None:
    figures = read_figures(files)
    if prepared.original is not None:
        outputs = outputs_digests(files, root=prepared.outputs)
        return against_task(original=prepared.original, figures=figures, outputs=outputs, device=prepared.device)
    reported = prepared.resource.reported_metrics if prepared.resource else None
    if prepared.mode == Mode.EVALUATE and reported:
        digest = prepared.dataset.digest if prepared.dataset else None
        return against_reported(reported=reported, figures=figures, dataset_digest=digest, device=prepared.device)
    return None


def publish(prepared: Prepared, files: list[Path]) -> str | None:
    """Upload outputs; then, in one transaction, the trained version (if any), the manifest (last in the
    store) and the task's end. A task cancelled meanwhile publishes nothing."""
    settings = get_settings()
    store = ObjectStore.from_settings(settings)
    with recorded_step(settings, prepared.task_id, "publish"):
        with prepared.timed("publish"):
            outputs = upload_outputs(store=store, prepared=prepared, files=files)

        def publish_and_finish(session: Session, row: Task) -> str | None:
            if row.status in task_rows.TERMINAL:
                return None
            result = publish_product(
                session, store=store, prepared=prepared, task=row, outputs=outputs, max_pixels=settings.max_image_pixels
            )
            steps = [dict(step) for step in row.steps]
            manifest = build_manifest(prepared=prepared, outputs=outputs, steps=steps, result=result)
            key = write_manifest(store=store, task_id=prepared.task_id, manifest=manifest)
            task_rows.finish(
                session, task=row, status=TaskStatus.SUCCEEDED, outputs=outputs, manifest_key=key, result=result
            )
            return key

        key = task_rows.change_task(settings.resolved_database_url, prepared.task_id, publish_and_finish)
    if key is None:
        store.delete_prefix(keys.task_outputs_prefix(prepared.task_id))  # cancelled meanwhile
    return key


PUBLISH_RETRIES = 2  # when the object store or the database is unavailable (ServiceUnavailable)
PUBLISH_RETRY_DELAY_SECONDS = 2.0

init_step = task(name="init", retries=0, cache_policy=NONE)(init)
work_step = task(name="work", retries=0, cache_policy=NONE)(work)
publish_step = task(
    name="publish",
    retries=PUBLISH_RETRIES,
    retry_delay_seconds=PUBLISH_RETRY_DELAY_SECONDS,
    retry_condition_fn=_retry_on_unavailable,
    cache_policy=NONE,
)(publish)


def publish_retrying(prepared: Prepared, files: list[Path]) -> str | None:
    """`publish` retried as the flow's publish task is, for a run without a flow (the warm lane)."""
    retries_left = PUBLISH_RETRIES
    while True:
        try:
            return publish(prepared, files)
        except ServiceUnavailable as error:
            if retries_left == 0:
                raise
            retries_left -= 1
            log.warning("publish failed (%s); retrying in %.0f s", error.message, PUBLISH_RETRY_DELAY_SECONDS)
            time.sleep(PUBLISH_RETRY_DELAY_SECONDS)


@dataclass(frozen=True)
class Steps:
    """How a run calls its three steps: as Prefect task runs (the flow) or as plain calls (the warm lane)."""

    init: Callable[[str], Prepared]
    work: Callable[[Prepared], list[Path]]
    publish: Callable[[Prepared, list[Path]], str | None]


FLOW_STEPS = Steps(
    init=init_step,
    work=lambda prepared: work_step.with_options(name=prepared.mode)(prepared),  # the task run is named after the mode
    publish=publish_step,
)
INLINE_STEPS = Steps(init=init, work=work, publish=publish_retrying)


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
    _end_task(str(flow_run.parameters["task_id"]), status=TaskStatus.CANCELLED, error="cancelled by request")


def _on_crashed(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    _end_task(
        str(flow_run.parameters["task_id"]),
        status=TaskStatus.FAILED,
        error=f"the worker crashed: {state.message or 'no message'}",
    )


@flow(name="run-task", on_cancellation=[_on_cancellation], on_crashed=[_on_crashed], log_prints=True)
def run_task(task_id: str) -> str | State | None:
    """Run one task of the registry end to end; returns the manifest key, or a Cancelled state."""
    configure_logging(get_settings())
    with task_context(task_id):  # every log record of this run carries the task id
        return execute(task_id, steps=FLOW_STEPS, flow_run_id=_current_flow_run_id())


def execute(
    task_id: str, *, steps: Steps, flow_run_id: str | None = None, task_run_id: str | None = None
) -> str | State | None:
    """Claim the task for the Prefect run executing it (`flow_run_id` or `task_run_id`), then run its steps
    with a heartbeat; returns the manifest key, or a Cancelled state (ended, claimed by another run, or
    cancelled meanwhile). A failure is recorded on the task row, then raised."""
    settings = get_settings()
    started = task_rows.change_task(
        settings.resolved_database_url,
        task_id,
        lambda session, row: task_rows.mark_running(
            session, task=row, flow_run_id=flow_run_id, task_run_id=task_run_id
        ),
    )
    if not started:
        return Cancelled(message=f"task {task_id} had already ended, or another run has it; nothing to do")
    work_dir = work_folder(settings, task_id)
    try:
        with heartbeat(
            database_url=settings.resolved_database_url, task_id=task_id, every_seconds=settings.heartbeat_seconds
        ):
            run_log = get_run_logger()  # lines the task's logs (GET /tasks/{id}/logs) show, on either lane
            prepared = steps.init(task_id)
            run_log.info(
                "init: %d input(s) fetched; running %s on %s", len(prepared.inputs), prepared.mode, prepared.device
            )
            files = steps.work(prepared)
            run_log.info("%s: %d output file(s)", prepared.mode, len(files))
            manifest_key = steps.publish(prepared, files)
            if manifest_key is None:
                return Cancelled(message="task cancelled before its manifest was written; nothing published")
            run_log.info("published: manifest %s", manifest_key)
            return manifest_key
    except TaskCancelled as cancelled:
        return Cancelled(message=str(cancelled))
    except Exception as error:  # cancellation arrives as a BaseException and is left to the hook
        _end_task(task_id, status=TaskStatus.FAILED, error=describe_error(error))
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
