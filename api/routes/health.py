"""Health of the API and of every component it needs."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from api.deps import DispatcherDep, SessionDep, StoreDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep, store: StoreDep, dispatcher: DispatcherDep, response: Response) -> dict[str, object]:
    """`ok` when the database, object store, Prefect and at least one worker answer; else 503."""
    try:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        database = "ok"
    except Exception as error:
        database = f"down: {type(error).__name__}"
    try:
        prefect = "ok" if dispatcher.prefect_healthy() else "down"
    except Exception as error:
        prefect = f"down: {type(error).__name__}"
    components = {
        "database": database,
        "object_store": "ok" if store.healthy() else "down",
        "prefect": prefect,
        "worker": "ok" if prefect == "ok" and dispatcher.worker_online() else "none online",
    }
    healthy = all(value == "ok" for value in components.values())
    if not healthy:
        response.status_code = 503
    return {"status": "ok" if healthy else "degraded", "components": components}
