"""The project's work pool and deployment on the Prefect server (created idempotently)."""

from __future__ import annotations

import contextlib
from typing import cast

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from commons.settings import Settings
from flows.run_task import run_task


def ensure_work_pool(client: SyncPrefectClient, *, name: str, pool_type: str = "process") -> None:
    try:
        client.read_work_pool(name)
    except ObjectNotFound:
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(
                WorkPoolCreate(name=name, type=pool_type, description="Model Commons tasks (embedded process pool)")
            )


def ensure_deployment(settings: Settings) -> str:
    """Create or update the `run-task/<deployment_name>` deployment; returns its id."""
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        ensure_work_pool(client, name=settings.work_pool)
    deployment = cast(
        RunnerDeployment,
        run_task.to_deployment(
            name=settings.deployment_name,
            work_pool_name=settings.work_pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
            description="Runs one Model Commons task (init → work → publish).",
            tags=["model-commons"],
        ),
    )
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: settings.resolved_prefect_api_url}):
        deployment_id = deployment.apply()
    return str(deployment_id)


if __name__ == "__main__":
    from commons.settings import get_settings

    print(f"deployment {get_settings().deployment_full_name}: {ensure_deployment(get_settings())}")
