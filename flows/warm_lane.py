"""The warm lane: long-lived Prefect task workers that receive tasks by websocket push and run the same
flow in-process, with Python, torch and the project's code already imported (DESIGN.md "Dispatch").

Start one with `python -m flows.warm_lane` (`commons up` does); submit with `run_task_warm.delay(task_id)`.
A warm worker keeps recently used models loaded (flows/model_cache.py), so a task on a version it has
served before pays no model load.
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

    import flows.classifier_infer
    import flows.sam_infer  # noqa: F401
    import resources.classifier.model
    import resources.sam.infer
    import resources.sam.render  # noqa: F401


def serve(*, limit: int, model_cache_bytes: int) -> None:
    """Serve the warm lane: `limit` tasks at once, keeping up to `model_cache_bytes` of loaded models."""
    from prefect.task_worker import serve as serve_tasks

    from flows import model_cache

    warm_up()
    model_cache.enable(max_bytes=model_cache_bytes)
    serve_tasks(run_task_warm, limit=limit)


if __name__ == "__main__":
    from commons.logging import configure_logging
    from commons.settings import get_settings

    configure_logging(get_settings())
    serve(limit=get_settings().warm_worker_limit, model_cache_bytes=get_settings().warm_model_cache_bytes)
