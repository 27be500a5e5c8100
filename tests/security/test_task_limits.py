"""A task that runs longer than its mode's time limit is ended `failed` with the reason, and its Prefect run is
cancelled: the reaper's `end_overdue_tasks` on a real database (SQLite and PostgreSQL) and a real Prefect server.

Limits are settings per mode; here the infer limit is 1 s, the others their defaults.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import flow
from prefect.client.orchestration import SyncPrefectClient
from prefect.states import Running
from sqlmodel import Session

from commons.db import get_engine
from commons.settings import Settings
from registry import tasks as task_rows
from registry.clock import utcnow
from registry.models import Task
from services.reaper import end_overdue_tasks
from tests.factories import pending_task, two_passes


@flow(name="time-limit-probe")
def probe() -> None:
    """Never run: only its flow runs are created, to be put in chosen states."""


def running_task(session: Session, *, owner_name: str, mode: str, flow_run_id: str, ran_for: float) -> Task:
    task = pending_task(session, owner_name=owner_name, mode=mode, dataset_id="d" if mode == "train" else None)
    task_rows.mark_scheduled(session, task=task, dispatch_id=flow_run_id)
    task_rows.mark_running(session, task=task, flow_run_id=flow_run_id)
    task.started_at = utcnow() - timedelta(seconds=ran_for)
    task.heartbeat_at = utcnow()  # the worker is alive: only the time limit can end it
    session.add(task)
    session.commit()
    return task


def test_a_task_over_its_time_limit_fails_with_the_reason(shared_services: Settings, database_url: str) -> None:
    settings = shared_services.model_copy(update={"database_url": database_url, "task_time_limit_infer": 1.0})
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        runs = [client.create_flow_run(probe) for _ in range(3)]
        for run in runs:
            client.set_flow_run_state(run.id, Running(), force=True)
    overdue_run, fresh_run, train_run = runs
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        overdue = running_task(session, owner_name="slow", mode="infer", flow_run_id=str(overdue_run.id), ran_for=5)
        fresh = running_task(session, owner_name="fresh", mode="edit", flow_run_id=str(fresh_run.id), ran_for=0)
        train = running_task(session, owner_name="trainer", mode="train", flow_run_id=str(train_run.id), ran_for=60)

    assert two_passes(settings, end_overdue_tasks) == [1, 0], "one task ends; a second pass changes nothing"

    with Session(get_engine(database_url)) as session:
        rows = {task.id: session.get(Task, task.id) for task in (overdue, fresh, train)}
    ended, kept, training = rows[overdue.id], rows[fresh.id], rows[train.id]
    assert ended is not None and kept is not None and training is not None
    assert ended.status == "failed"
    assert ended.error == (
        "ran longer than its limit of 1 s for mode infer; ask an admin to raise COMMONS_TASK_TIME_LIMIT_INFER"
    )
    assert all(step["status"] != "running" for step in ended.steps)
    assert kept.status == "running", "an edit task just started is within its limit (10 minutes by default)"
    assert training.status == "running", "60 s is within the train limit (two hours by default)"
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        state = client.read_flow_run(overdue_run.id).state
        assert state is not None and state.type.value in ("CANCELLING", "CANCELLED"), "its run is cancelled"
        untouched = client.read_flow_run(fresh_run.id).state
        assert untouched is not None and untouched.type.value == "RUNNING"


def test_time_limits_are_settings_per_mode() -> None:
    settings = Settings(task_time_limit_train=14_400)
    assert settings.task_time_limit_train == 14_400
    assert settings.task_time_limit_infer == 600 and settings.task_time_limit_evaluate == 3600
