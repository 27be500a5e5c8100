"""After a warm worker died: fail only the tasks it was running, and have the work it had taken in but not
started submitted again, so one worker killed for memory costs one task, not the queue.

`commons up` calls `recover_warm_worker` when a warm-worker child exits, before restarting it. The tasks the
worker was running are the claim files it kept (flows/warm_lane.py); each ends `failed` with how the worker
ended, and its Prefect task run `Crashed`. A Prefect task worker also holds one received-but-waiting run
while its slots are busy; that run dies with it and would leave its task `scheduled` for good. Which waiting
run it was cannot be told from Prefect, so every waiting warm task's run is ended `Crashed`, and the reaper
resubmits each (a run that crashed before its task started). A copy still queued at the Prefect server is
harmless: the first run to claim a task does it, another finds it claimed or ended and does nothing.
"""

from __future__ import annotations

import logging
import shutil
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.states import Crashed
from sqlmodel import Session, col, select

from commons.db import session_scope
from commons.processes import describe_exit
from commons.settings import Settings
from flows.warm_lane import claim_folder
from registry import tasks as task_rows
from registry.models import Task
from registry.vocabulary import Lane, TaskStatus

log = logging.getLogger(__name__)


def killed_reason(returncode: int) -> str:
    return (
        f"the worker running it {describe_exit(returncode)}; this task was ended, the others go on. "
        "Try fewer or smaller inputs, or a worker with more memory"
    )


def recover_warm_worker(settings: Settings, *, pid: int, returncode: int) -> list[str]:
    """Fail the tasks the dead warm worker `pid` held and resubmit the waiting warm tasks; returns the ids
    of the tasks it failed."""
    folder = claim_folder(settings, pid)
    held = sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []
    reason = killed_reason(returncode)
    url = settings.resolved_database_url
    failed: list[Task] = []
    for task_id in held:

        def end(session: Session, row: Task) -> Task | None:
            ended = task_rows.finish(session, task=row, status=TaskStatus.FAILED, error=reason)
            return row if ended else None

        try:
            row = task_rows.change_task(url, task_id, end)
        except Exception:
            log.exception("could not fail task %s of the dead warm worker", task_id)
            continue
        if row is not None:
            failed.append(row)
            log.warning("task %s failed: %s", task_id, reason)
    with session_scope(url) as session:
        waiting = list(
            session.exec(
                select(Task).where(
                    Task.lane == Lane.WARM, Task.status == TaskStatus.SCHEDULED, col(Task.task_run_id).is_(None)
                )
            )
        )
    waiting = [task for task in waiting if task.id not in held]
    _tell_prefect(settings, failed=failed, waiting=waiting, reason=reason)
    shutil.rmtree(folder, ignore_errors=True)
    return [task.id for task in failed]


def _tell_prefect(settings: Settings, *, failed: list[Task], waiting: list[Task], reason: str) -> None:
    """End the failed tasks' task runs Crashed, and the waiting tasks' runs Crashed too: the reaper then
    resubmits each (a run that crashed before its task started, services/reaper.py) from the API, whose
    environment Prefect's background tasks need."""
    ended = [(task.task_run_id, reason) for task in failed]
    lost = "the warm worker that may have taken it in died before starting it; submitted again"
    ended += [(task.dispatch_id, lost) for task in waiting]
    if not any(run_id for run_id, _ in ended):
        return
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        for run_id, message in ended:
            if run_id is None:
                continue
            try:
                client.set_task_run_state(UUID(run_id), Crashed(message=message), force=True)
            except Exception as error:
                log.warning("could not end task run %s in Prefect: %s", run_id, error)
