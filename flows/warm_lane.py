"""The warm lane: long-lived Prefect task workers that receive tasks by websocket push and run the same
steps in-process, with Python, torch and the project's code already imported (docs/architecture.md "Two lanes").

Start one with `python -m flows.warm_lane` (`commons up` does); submit with `warm_task().delay(task_id)`.
A warm worker keeps recently used models loaded (flows/steps/model_cache.py), so a task on a version it has
served before pays no model load.

While it runs a task, a warm worker keeps a claim file `<data_dir>/warm-claims/<pid>/<task_id>`: when the
process is killed (SIGKILL by the OOM killer leaves it no last word), `commons up` fails exactly the tasks it
held, with the reason, and restarts it (services/warm_recovery.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from prefect.context import SyncClientContext

from commons.logging import task_context
from commons.settings import Settings, get_settings
from flows.run_task import INLINE_STEPS, execute
from flows.warm_storage import BLOCK_NAME, ObjectStoreResults
from flows.warm_storage import SLUG as PARAMETER_STORAGE

CLAIMS_FOLDER = "warm-claims"


def claim_folder(settings: Settings, pid: int) -> Path:
    """Where the warm worker with process id `pid` lists the tasks it is running (one empty file each)."""
    return settings.data_dir.resolve() / CLAIMS_FOLDER / str(pid)


@contextmanager
def claimed(task_id: str) -> Iterator[None]:
    """List the task under this process's claim folder while it runs here."""
    if not task_id.isalnum():  # ids are hex; never a path
        raise ValueError(f"not a task id: {task_id!r}")
    folder = claim_folder(get_settings(), os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / task_id
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


@task(
    name="run-task-warm",
    task_run_name="run-task-warm-{task_id}",  # find a task's run in the Prefect UI by its id
    cache_policy=NONE,
    retries=0,
    persist_result=False,
    result_storage=PARAMETER_STORAGE,  # its parameters reach a warm worker on any host (flows/warm_storage.py)
    log_prints=True,
)
def run_task_warm(task_id: str) -> str | State | None:
    """Run the task in this long-lived worker: this task run is the task's run (its claim, logs and state),
    the steps are plain calls, so a warm task pays for no flow run or step task runs."""
    from prefect.runtime import task_run

    with task_context(task_id), claimed(task_id):  # every log record of this run carries the task id
        return execute(task_id, steps=INLINE_STEPS, task_run_id=str(task_run.id))


@functools.cache
def warm_task() -> Task[Any, str | State | None]:
    """`run_task_warm` with its parameter storage block loaded once per process (the API's dispatcher and each warm
    worker). Named by its slug, the block is read from Prefect's API at every submission and twice in every run
    (~0.1 s each: a third of a cached prompt's latency); loaded, it is the same saved block. A failed load (Prefect
    unreachable) is not kept, so the next call tries again."""
    storage = ObjectStoreResults.load(BLOCK_NAME)  # from sync code: the block, not a coroutine
    if not isinstance(storage, ObjectStoreResults):
        raise TypeError(f"Prefect's block {PARAMETER_STORAGE} is a {type(storage).__name__}, not the object store's")
    return run_task_warm.with_options(result_storage=storage)


def warm_up() -> None:
    """Import what the work step of every kind that runs on the warm lane needs, before the first task arrives,
    so no task pays for it (each kind's `warm_up`, `flows/kinds/`)."""
    from flows.kinds import KINDS

    for kind in KINDS:
        if kind.warm_up is not None and any(mode.warm for mode in kind.modes.values()):
            kind.warm_up()


def serve(*, limit: int, model_cache_bytes: int) -> None:
    """Serve the warm lane: `limit` tasks at once, keeping up to `model_cache_bytes` of loaded models."""
    from prefect.task_worker import serve as serve_tasks

    from flows.steps import model_cache

    # Prefect logs a background task run's final "Finished in state" line after its run context has closed,
    # and warns that it cannot ship it; the task's own lines (flows.run_task.execute) are shipped.
    warnings.filterwarnings("ignore", message=r".*attempted to send logs to the API without a flow run id")
    shutil.rmtree(claim_folder(get_settings(), os.getpid()), ignore_errors=True)  # a reused pid's leftovers
    warm_up()
    model_cache.enable(max_bytes=model_cache_bytes)
    # One Prefect API client for every run of this worker: each run's context is copied from this one, where
    # Prefect's task engine finds the client instead of building its own (a new TLS context each time: 20-50 ms),
    # as task runs in a flow's thread pool share the flow's. The client is thread-safe for concurrent runs.
    with SyncClientContext.get_or_create():
        serve_tasks(warm_task(), limit=limit)


if __name__ == "__main__":
    from commons.logging import configure_logging

    configure_logging(get_settings())
    serve(limit=get_settings().warm_worker_limit, model_cache_bytes=get_settings().warm_model_cache_bytes)
