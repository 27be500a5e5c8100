"""Submits and cancels flow runs of the project's deployment through the Prefect client."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import StateType, WorkerStatus
from prefect.states import Cancelled, Cancelling

from commons.errors import ServiceUnavailable
from commons.settings import Settings

TERMINAL_FLOW_STATES = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


@dataclass(frozen=True)
class FlowRunState:
    type: StateType
    name: str
    message: str | None

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_FLOW_STATES


class Dispatcher:
    """One Prefect client shared by the API's threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = SyncPrefectClient(settings.resolved_prefect_api_url)
        self._client.__enter__()
        self._deployment_id: UUID | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.__exit__(None, None, None)

    def _deployment(self) -> UUID:
        with self._lock:
            if self._deployment_id is None:
                try:
                    deployment = self._client.read_deployment_by_name(self.settings.deployment_full_name)
                except Exception as error:
                    raise ServiceUnavailable(
                        f"Prefect has no deployment {self.settings.deployment_full_name!r} yet ({error}); "
                        "start the stack with `commons up`"
                    ) from error
                self._deployment_id = deployment.id
            return self._deployment_id

    def submit(self, task_id: str) -> str:
        """Create a flow run of the deployment for the task; idempotent on the task id."""
        try:
            run = self._client.create_flow_run_from_deployment(
                self._deployment(),
                parameters={"task_id": task_id},
                idempotency_key=f"task-{task_id}",
                tags=["model-commons"],
            )
        except ServiceUnavailable:
            raise
        except Exception as error:
            raise ServiceUnavailable(f"Prefect refused the flow run: {error}") from error
        return str(run.id)

    def cancel(self, flow_run_id: str) -> None:
        """Ask Prefect to cancel: a run not started yet is cancelled at once; a running one is stopped."""
        run = self._client.read_flow_run(UUID(flow_run_id))
        state_type = run.state.type if run.state else None
        if state_type in TERMINAL_FLOW_STATES:
            return
        if state_type in (StateType.SCHEDULED, StateType.PENDING, None):
            self._client.set_flow_run_state(UUID(flow_run_id), Cancelled(message="cancelled by request"), force=True)
        else:
            self._client.set_flow_run_state(UUID(flow_run_id), Cancelling(message="cancelled by request"), force=True)

    def state(self, flow_run_id: str) -> FlowRunState | None:
        run = self._client.read_flow_run(UUID(flow_run_id))
        if run.state is None:
            return None
        return FlowRunState(type=run.state.type, name=run.state.name or run.state.type.value, message=run.state.message)

    def prefect_healthy(self) -> bool:
        return self._client.api_healthcheck() is None

    def worker_online(self) -> bool:
        try:
            workers = self._client.read_workers_for_work_pool(self.settings.work_pool)
        except Exception:
            return False
        return any(worker.status == WorkerStatus.ONLINE for worker in workers)
