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
from flows.warm_storage import ensure_saved
from flows.work_pools import base_job_template


def ensure_work_pool(client: SyncPrefectClient, *, name: str, pool_type: str = "process") -> None:
    """Create the pool if missing; docker and kubernetes pools get flows/work_pools.py's templates."""
    try:
        client.read_work_pool(name)
    except ObjectNotFound:
        template = base_job_template(pool_type)
        extra = {"base_job_template": template} if template is not None else {}
        spec = WorkPoolCreate(name=name, type=pool_type, description=f"Model Commons tasks ({pool_type} pool)", **extra)
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(spec)


def ensure_deployment(settings: Settings, *, pool_type: str = "process") -> str:
    """Create or update the `run-task/<deployment_name>` deployment on the settings' pool; returns its id."""
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        ensure_work_pool(client, name=settings.work_pool, pool_type=pool_type)
    ensure_saved(settings.resolved_prefect_api_url)  # the warm lane's parameters go through the object store
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
