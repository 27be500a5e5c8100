"""The warm lane: long-lived Prefect task workers that receive tasks by websocket push and run the same
flow in-process, with Python, torch and the project's code already imported (DESIGN.md "Dispatch").

Start one with `python -m flows.warm_lane` (`commons up` does); submit with `run_task_warm.delay(task_id)`.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from flows.run_task import run_task


@task(name="run-task-warm", cache_policy=NONE, retries=0, persist_result=False)
def run_task_warm(task_id: str) -> None:
    """Run the task's flow inside this long-lived worker (a nested flow run of this task run)."""
    run_task(task_id, return_state=True)  # a failed or cancelled task is already recorded on its row


def warm_up() -> None:
    """Import what the work step needs before the first task arrives, so no task pays for it."""
    import segment_anything  # noqa: F401
    import torch  # noqa: F401

    import flows.sam_infer  # noqa: F401
    import resources.sam.infer
    import resources.sam.render  # noqa: F401


def serve(*, limit: int) -> None:
    from prefect.task_worker import serve as serve_tasks

    warm_up()
    serve_tasks(run_task_warm, limit=limit)


if __name__ == "__main__":
    from commons.settings import get_settings

    serve(limit=get_settings().warm_worker_limit)
