"""The reaper ends in Prefect too every run it ends, and gives a run that crashed before its task started
another go: no flow run stays `Cancelling` for good, no task stays failed for a Prefect hiccup at start.

Real Prefect server (the session's), real deployment on a pool no worker serves, so the runs stay where the
test puts them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelling, Crashed, Running
from sqlmodel import Session

from commons.db import get_engine
from commons.settings import Settings
from flows.deployment import ensure_deployment
from registry import tasks as task_rows
from registry.migrate import upgrade
from registry.models import Task
from services.dispatch import Dispatcher
from services.reaper import reconcile_once
from tests.factories import pending_task


@pytest.fixture(scope="module")
def deployed(shared_services: Settings) -> Settings:
    """The session's Prefect server with a deployment of its own, on a pool no worker serves."""
    suffix = uuid.uuid4().hex[:8]
    settings = shared_services.model_copy(
        update={
            "work_pool": f"no-worker-{suffix}",
            "deployment_name": f"reaper-{suffix}",
            "stale_after_seconds": 1.0,
            "task_resubmit_attempts": 2,
        }
    )
    ensure_deployment(settings)
    return settings


@pytest.fixture
def reaper_settings(deployed: Settings, tmp_path: Path) -> Settings:
    """A fresh registry per test: each reaper pass sees only the test's own tasks."""
    settings = deployed.model_copy(update={"data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'r.db'}"})
    upgrade(settings.resolved_database_url)
    return settings


@pytest.fixture
def dispatcher(reaper_settings: Settings) -> Iterator[Dispatcher]:
    dispatcher = Dispatcher(reaper_settings)
    yield dispatcher
    dispatcher.close()


@pytest.fixture
def prefect(reaper_settings: Settings) -> Iterator[SyncPrefectClient]:
    with SyncPrefectClient(reaper_settings.resolved_prefect_api_url) as client:
        yield client


def new_task(settings: Settings) -> Task:
    """A pending batch task on a version of its own resource (its owner named uniquely)."""
    with Session(get_engine(settings.resolved_database_url), expire_on_commit=False) as session:
        task = pending_task(session, owner_name=f"u{uuid.uuid4().hex[:10]}")
        session.commit()
        return task


def submitted(settings: Settings, dispatcher: Dispatcher, *, running: bool = False) -> Task:
    """A task handed to Prefect as the API does (a flow run of the deployment), optionally claimed by it."""
    task = new_task(settings)
    run_id = dispatcher.submit(task.id, lane="batch")

    def schedule(session: Session, row: Task) -> None:
        task_rows.mark_scheduled(session, task=row, dispatch_id=run_id)
        if running:
            task_rows.mark_running(session, task=row, flow_run_id=run_id)

    task_rows.change_task(settings.resolved_database_url, task.id, schedule)
    return row(settings, task.id)


def row(settings: Settings, task_id: str) -> Task:
    with Session(get_engine(settings.resolved_database_url), expire_on_commit=False) as session:
        found = session.get(Task, task_id)
        assert found is not None
        return found


def run_state(prefect: SyncPrefectClient, run_id: str | None) -> StateType:
    assert run_id is not None
    state = prefect.read_flow_run(UUID(run_id)).state
    assert state is not None
    return state.type


def test_a_dead_workers_run_ends_cancelled_not_cancelling(
    reaper_settings: Settings, dispatcher: Dispatcher, prefect: SyncPrefectClient
) -> None:
    # A running task whose worker went silent: the reaper fails it and ends its run Cancelled at once.
    silent = submitted(reaper_settings, dispatcher, running=True)
    prefect.set_flow_run_state(UUID(silent.flow_run_id or ""), Running(), force=True)
    # A task cancelled by its owner while its worker was gone: the run was left Cancelling.
    orphan = submitted(reaper_settings, dispatcher, running=True)
    prefect.set_flow_run_state(UUID(orphan.flow_run_id or ""), Running(), force=True)
    prefect.set_flow_run_state(UUID(orphan.flow_run_id or ""), Cancelling(message="cancelled by request"), force=True)
    task_rows.change_task(
        reaper_settings.resolved_database_url,
        orphan.id,
        lambda session, r: task_rows.finish(session, task=r, status="cancelled", error="cancelled by request"),
    )
    # A run Cancelling whose task still beats (its worker is stopping it): not the reaper's to end.
    busy = submitted(reaper_settings, dispatcher, running=True)
    prefect.set_flow_run_state(UUID(busy.flow_run_id or ""), Running(), force=True)
    prefect.set_flow_run_state(UUID(busy.flow_run_id or ""), Cancelling(message="cancel requested"), force=True)

    time.sleep(1.5)  # past stale_after_seconds (1 s) for the silent task and both Cancelling runs

    def beat(session: Session, r: Task) -> None:
        task_rows.heartbeat(session, task=r)

    task_rows.change_task(reaper_settings.resolved_database_url, busy.id, beat)
    assert reconcile_once(settings=reaper_settings, dispatcher=dispatcher) >= 1

    ended = row(reaper_settings, silent.id)
    assert ended.status == "failed" and "heartbeat" in (ended.error or ""), ended.error
    assert run_state(prefect, silent.flow_run_id) == StateType.CANCELLED, "not left Cancelling"
    assert run_state(prefect, orphan.flow_run_id) == StateType.CANCELLED, "a run left Cancelling ends Cancelled"
    assert row(reaper_settings, orphan.id).status == "cancelled", "the task keeps its own ending"
    assert run_state(prefect, busy.flow_run_id) == StateType.CANCELLING, "a live run is its worker's to end"
    assert row(reaper_settings, busy.id).status == "running"


def test_a_run_that_crashed_before_its_task_started_is_resubmitted_then_failed(
    reaper_settings: Settings, dispatcher: Dispatcher, prefect: SyncPrefectClient
) -> None:
    task = submitted(reaper_settings, dispatcher)
    first_run = task.flow_run_id
    runs = [first_run]
    for attempt in (1, 2):
        prefect.set_flow_run_state(
            UUID(runs[-1] or ""), Crashed(message="Prefect answered 503 Service Unavailable"), force=True
        )
        assert reconcile_once(settings=reaper_settings, dispatcher=dispatcher) == 1
        again = row(reaper_settings, task.id)
        assert again.status == "scheduled" and again.error is None, "resubmitted, not failed"
        assert again.flow_run_id not in runs and again.dispatch_id == again.flow_run_id, "a new flow run"
        assert again.flow_run_id is not None
        new_run = prefect.read_flow_run(UUID(again.flow_run_id))
        assert f"commons-attempt-{attempt}" in new_run.tags
        assert new_run.state is not None and new_run.state.type == StateType.SCHEDULED
        assert new_run.parameters == {"task_id": task.id}
        runs.append(again.flow_run_id)

    prefect.set_flow_run_state(UUID(runs[-1] or ""), Crashed(message="Prefect answered 503 again"), force=True)
    assert reconcile_once(settings=reaper_settings, dispatcher=dispatcher) == 1
    failed = row(reaper_settings, task.id)
    assert failed.status == "failed", "bounded: task_resubmit_attempts (2) resubmissions, then failed"
    assert failed.error is not None
    assert "before the task started" in failed.error and "503 again" in failed.error, failed.error
    assert "resubmitted 2 time(s)" in failed.error, failed.error
    assert reconcile_once(settings=reaper_settings, dispatcher=dispatcher) == 0, "nothing more to do"
    assert run_state(prefect, first_run) == StateType.CRASHED


def test_a_run_that_crashed_after_its_task_started_is_not_resubmitted(
    reaper_settings: Settings, dispatcher: Dispatcher, prefect: SyncPrefectClient
) -> None:
    task = submitted(reaper_settings, dispatcher, running=True)
    prefect.set_flow_run_state(UUID(task.flow_run_id or ""), Crashed(message="worker process killed"), force=True)
    assert reconcile_once(settings=reaper_settings, dispatcher=dispatcher) == 1
    ended = row(reaper_settings, task.id)
    assert ended.status == "failed" and "worker process killed" in (ended.error or "")
    assert ended.flow_run_id == task.flow_run_id, "half-done work is not run again behind the owner's back"
