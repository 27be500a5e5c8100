"""The reaper keeps task rows true to their Prefect runs: no task stays `running` after its run ended."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import flow
from prefect.client.orchestration import SyncPrefectClient
from prefect.states import Crashed, Running
from sqlmodel import Session

from commons.db import get_engine
from commons.settings import Settings
from registry import tasks as task_rows
from registry.clock import utcnow
from registry.migrate import upgrade
from registry.models import Task
from services.reaper import reconcile_once
from tests.factories import pending_task, two_passes


@flow(name="reaper-probe")
def probe() -> None:
    """Never run: only its flow runs are created, to be put in chosen states."""


def running_task(session: Session, *, owner_name: str, flow_run_id: str) -> Task:
    task = pending_task(session, owner_name=owner_name)
    task_rows.mark_scheduled(session, task=task, dispatch_id=flow_run_id)
    task_rows.mark_running(session, task=task, flow_run_id=flow_run_id)
    session.commit()
    return task


def test_reaper_ends_crashed_and_silent_tasks(shared_services: Settings, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'reaper.db'}"
    upgrade(database_url)
    settings = shared_services.model_copy(
        update={"database_url": database_url, "data_dir": tmp_path, "stale_after_seconds": 30}
    )
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        crashed_run = client.create_flow_run(probe)
        client.set_flow_run_state(crashed_run.id, Running(), force=True)
        client.set_flow_run_state(crashed_run.id, Crashed(message="worker process killed"), force=True)
        silent_run = client.create_flow_run(probe)
        client.set_flow_run_state(silent_run.id, Running(), force=True)
        healthy_run = client.create_flow_run(probe)
        client.set_flow_run_state(healthy_run.id, Running(), force=True)

    with Session(get_engine(database_url), expire_on_commit=False) as session:
        crashed = running_task(session, owner_name="crashy", flow_run_id=str(crashed_run.id))
        silent = running_task(session, owner_name="silent", flow_run_id=str(silent_run.id))
        healthy = running_task(session, owner_name="healthy", flow_run_id=str(healthy_run.id))
        silent.heartbeat_at = utcnow() - timedelta(seconds=120)
        session.add(silent)
        session.commit()

    assert two_passes(settings, reconcile_once) == [2, 0], "two tasks end; a second pass changes nothing"

    with Session(get_engine(database_url)) as session:
        crashed_row = session.get(Task, crashed.id)
        silent_row = session.get(Task, silent.id)
        healthy_row = session.get(Task, healthy.id)
        assert crashed_row is not None and silent_row is not None and healthy_row is not None
        assert crashed_row.status == "failed"
        assert "Crashed" in (crashed_row.error or "") and "worker process killed" in (crashed_row.error or "")
        assert silent_row.status == "failed" and "heartbeat" in (silent_row.error or "")
        assert healthy_row.status == "running"
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        state = client.read_flow_run(silent_run.id).state
        assert state is not None and state.type.value in ("CANCELLING", "CANCELLED")


def test_a_second_run_of_a_task_another_run_holds_does_nothing(tmp_path: Path) -> None:
    """Two submissions of one task (the reaper's and the API's) give two runs; only the first to claim it works."""
    database_url = f"sqlite:///{tmp_path / 'claim.db'}"
    upgrade(database_url)
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        task = running_task(session, owner_name="claimer", flow_run_id="run-a")
        assert task_rows.mark_running(session, task=task, flow_run_id="run-b") is False
        assert task.flow_run_id == "run-a"
        assert task_rows.mark_running(session, task=task, flow_run_id="run-a") is True  # its own run may re-claim
        task_rows.finish(session, task=task, status="succeeded")
        assert task_rows.mark_running(session, task=task, flow_run_id="run-a") is False
