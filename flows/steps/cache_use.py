"""A task's use of the worker's content cache, kept on its row for /metrics (api/metrics.py).

No column of its own: the init step's entry of `Task.steps` (always the first) gets
`"cache": {"hit": n, "miss": n}` over the weights, inputs and dataset photos that step fetched.
"""

from __future__ import annotations

from sqlmodel import Session

from flows.steps.prepare import Prepared
from registry import tasks as task_rows
from registry.models import Task


def cache_use(prepared: Prepared) -> dict[str, int]:
    files = [*prepared.weights.values(), *(i.file for i in prepared.inputs)]
    if prepared.dataset is not None:
        files.extend(item.file for item in prepared.dataset.items)
    hits = sum(1 for f in files if f.hit)
    return {"hit": hits, "miss": len(files) - hits}


def record_cache_use(database_url: str, prepared: Prepared) -> None:
    counts = cache_use(prepared)

    def change(session: Session, row: Task) -> None:
        row.steps = [{**step, "cache": counts} if step["name"] == "init" else dict(step) for step in row.steps]
        session.add(row)

    task_rows.change_task(database_url, prepared.task_id, change)
