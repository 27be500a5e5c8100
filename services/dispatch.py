"""Hands tasks to Prefect: the batch lane (flow runs of the deployment on a work pool) and the warm lane
(background task runs pushed to long-lived task workers)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, StateType, TaskRun, WorkerStatus
from prefect.states import Cancelled, Cancelling, Crashed

from commons.errors import ExecutionNotAllowed, InvalidInput, ServiceUnavailable
from commons.settings import Settings
from registry import tasks as task_rows
from registry.execution_policy import check_dispatch
from registry.models import Task
from registry.schemas import ExecutionSpec
from registry.vocabulary import Lane, TaskStatus
from resources.cost import MemoryEstimate, check_memory
from services.job_variables import job_variables, over_deployment

TERMINAL_STATES = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
WARM_WORKER_CHECK_SECONDS = 5.0
PREFECT_LOG_PAGE = 200
DISPATCH_THREADS = 4
log = logging.getLogger(__name__)


ATTEMPT_TAG = "commons-attempt-"  # a resubmission's run carries commons-attempt-<n> (the first run none)


@dataclass(frozen=True)
class RunState:
    type: StateType
    name: str
    message: str | None
    attempt: int = 0  # 0 for the task's first run, n for its n-th resubmission

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_STATES


def _is_attempt_tag(tag: str) -> bool:
    return tag.startswith(ATTEMPT_TAG) and tag.removeprefix(ATTEMPT_TAG).isdigit()


def check_lane_memory(settings: Settings, lane: str, memory: MemoryEstimate | None) -> str:
    """`lane`, unless the task's estimated activation memory is over that lane's budget (then InvalidInput
    naming the block or parameter, the estimate and the budget's setting)."""
    if memory is not None:
        if lane == Lane.WARM:
            budget, setting = settings.warm_lane_activation_bytes, "COMMONS_WARM_LANE_ACTIVATION_BYTES"
        else:
            budget, setting = settings.batch_lane_activation_bytes, "COMMONS_BATCH_LANE_ACTIVATION_BYTES"
        check_memory(memory, budget=budget, setting=setting, lane=lane)
    return lane


def fail_not_allowed(settings: Settings, task_id: str, error: ExecutionNotAllowed) -> bool:
    """End a task whose version's execution spec the policy refused at dispatch: failed, with the reason."""
    log.warning("task %s not started: %s", task_id, error.message)
    return task_rows.change_task(
        settings.resolved_database_url,
        task_id,
        lambda session, row: task_rows.finish(session, task=row, status=TaskStatus.FAILED, error=error.message),
    )


class Dispatcher:
    """One Prefect client shared by the API's threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = SyncPrefectClient(settings.resolved_prefect_api_url)
        self._client.__enter__()
        self._deployment_id: UUID | None = None
        self._deployment_variables: dict[str, object] = {}
        self._pool_type: str | None = None
        self._lock = threading.Lock()
        self._warm_checked_at = 0.0
        self._warm_online = False
        self._background = ThreadPoolExecutor(max_workers=DISPATCH_THREADS, thread_name_prefix="dispatch")

    def close(self) -> None:
        self._background.shutdown(wait=True)  # submissions already accepted still reach Prefect
        self._client.__exit__(None, None, None)

    def in_background(self, work: Callable[[], None]) -> None:
        """Run `work` (a submission and its bookkeeping) on the dispatcher's own few threads.

        A request then never waits for Prefect, which under a burst of submissions answers slowly: request
        threads stay free for reads. A submission that fails leaves its task pending for the reaper.
        """

        def run() -> None:
            try:
                work()
            except Exception:
                log.exception("a background submission to Prefect failed; the reaper will retry it")

        self._background.submit(run)

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
                self._deployment_variables = dict(deployment.job_variables or {})
            return self._deployment_id

    def choose_lane(
        self, *, requested: str, mode: str, warm: bool, input_count: int, memory: MemoryEstimate | None = None
    ) -> str:
        """`warm` for small tasks of a mode that may run there (`warm`: its kind's `ModeSpec.warm`) while a warm
        worker listens, else `batch`; an explicit choice wins.

        With the task's estimated activation `memory`, auto never picks the warm lane for a task over its budget,
        and a task over the chosen lane's budget is refused (`check_lane_memory`)."""
        if not warm:
            if requested == Lane.WARM:
                raise InvalidInput(
                    f"{mode} tasks run on the batch lane (their own process or container); the warm lane keeps "
                    "long-lived workers free for small inference tasks — leave lane out or say 'batch'",
                    field="lane",
                )
            return check_lane_memory(self.settings, Lane.BATCH, memory)
        if requested != "auto":
            return check_lane_memory(self.settings, requested, memory)
        small = input_count <= self.settings.warm_lane_max_inputs
        fits = memory is None or memory.total <= self.settings.warm_lane_activation_bytes
        lane = Lane.WARM if small and fits and self.warm_worker_online() else Lane.BATCH
        return check_lane_memory(self.settings, lane, memory)

    def pool_type(self) -> str:
        """The type of the deployment's work pool (process, docker, kubernetes), read once."""
        with self._lock:
            if self._pool_type is None:
                try:
                    self._pool_type = self._client.read_work_pool(self.settings.work_pool).type
                except Exception as error:
                    raise ServiceUnavailable(
                        f"Prefect has no work pool {self.settings.work_pool!r} ({error}); create it (see deploy/)"
                    ) from error
            return self._pool_type

    def submit(self, task_id: str, *, lane: str, execution: ExecutionSpec | None = None, attempt: int = 0) -> str:
        """Start the task's run; returns the Prefect flow run id (batch) or task run id (warm).

        A batch run carries the job variables that `execution` (the version's spec) means for the pool's type.
        A spec the execution policy no longer allows (an image off the allow-list, more than the deployment's
        caps) raises ExecutionNotAllowed and starts nothing: the caller fails the task (`fail_not_allowed`).
        `attempt` > 0 is a resubmission (the reaper's, after a run that crashed before the task started): a new
        run, tagged with its attempt so the reaper can bound them.
        """
        check_dispatch(execution, settings=self.settings)
        attempt_tags = [f"{ATTEMPT_TAG}{attempt}"] if attempt else []
        try:
            if lane == Lane.WARM:
                from flows.warm_lane import warm_task  # the task object the warm workers serve

                warm = warm_task().with_options(tags=set(attempt_tags)) if attempt else warm_task()
                return str(warm.delay(task_id).task_run_id)
            deployment = self._deployment()
            variables = job_variables(pool_type=self.pool_type(), execution=execution)
            run = self._client.create_flow_run_from_deployment(
                deployment,
                parameters={"task_id": task_id},
                idempotency_key=f"task-{task_id}" + (f"-attempt-{attempt}" if attempt else ""),
                tags=["model-commons", *attempt_tags],
                job_variables=over_deployment(self._deployment_variables, variables) or None,
            )
        except ServiceUnavailable:
            raise
        except Exception as error:
            raise ServiceUnavailable(f"Prefect refused the run: {error}") from error
        return str(run.id)

    def cancel(self, task: Task) -> None:
        """Stop the task's flow run through Prefect: at once if not started, else the worker kills it.

        On the warm lane the flow runs inside a long-lived worker that must not be killed; it notices the
        cancelled task row at its next step or image and stops there (publishing nothing).
        """
        if task.lane != Lane.BATCH or task.flow_run_id is None:
            return
        run_id = UUID(task.flow_run_id)
        run = self._client.read_flow_run(run_id)
        state_type = run.state.type if run.state else None
        if state_type in TERMINAL_STATES:
            return
        if state_type in (StateType.SCHEDULED, StateType.PENDING, None):
            self._client.set_flow_run_state(run_id, Cancelled(message="cancelled by request"), force=True)
        else:
            self._client.set_flow_run_state(run_id, Cancelling(message="cancelled by request"), force=True)

    def state(self, task: Task) -> RunState | None:
        """The state of the Prefect run executing the task: its flow run (batch), the task run that claimed it
        (warm), else the warm dispatch not yet started."""
        if task.flow_run_id is not None:
            run: FlowRun | TaskRun = self._client.read_flow_run(UUID(task.flow_run_id))
        elif (task_run_id := task.task_run_id or task.dispatch_id) is not None:
            run = self._client.read_task_run(UUID(task_run_id))
        else:
            return None
        state = run.state
        if state is None:
            return None
        attempts = [int(tag.removeprefix(ATTEMPT_TAG)) for tag in run.tags if _is_attempt_tag(tag)]
        return RunState(
            type=state.type,
            name=state.name or state.type.value,
            message=state.message,
            attempt=max(attempts, default=0),
        )

    def end_run(self, task: Task, *, message: str) -> None:
        """Bring the task's Prefect run to a terminal state now (forced), for a run nothing will end any more:
        its worker is gone, so a `Cancelling` flow run would stay so for good and a warm task run `Running`.
        A batch flow run ends Cancelled; a warm task run Crashed (its worker died under it)."""
        if task.flow_run_id is not None:
            run_id = UUID(task.flow_run_id)
            flow_state = self._client.read_flow_run(run_id).state
            if flow_state is None or flow_state.type not in TERMINAL_STATES:
                self.force_cancelled(task.flow_run_id, message=message)
        elif task.task_run_id is not None:
            task_run_id = UUID(task.task_run_id)
            task_state = self._client.read_task_run(task_run_id).state
            if task_state is None or task_state.type not in TERMINAL_STATES:
                self._client.set_task_run_state(task_run_id, Crashed(message=message), force=True)

    def force_cancelled(self, flow_run_id: str, *, message: str) -> None:
        """Set the flow run Cancelled, whatever its state (force: no worker is there to confirm it)."""
        self._client.set_flow_run_state(UUID(flow_run_id), Cancelled(message=message), force=True)

    def stuck_cancelling(self, *, older_than: timedelta, limit: int = 50) -> list[str]:
        """Ids of the deployment's flow runs that have been `Cancelling` for longer than `older_than`."""
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )

        runs = self._client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLING]))
            ),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[self._deployment()])),
            limit=limit,
        )
        before = datetime.now(UTC) - older_than
        return [str(run.id) for run in runs if run.state is not None and run.state.timestamp < before]

    def logs(self, task: Task, *, limit: int) -> list[dict[str, object]]:
        """The log lines of the Prefect run executing the task (its flow run, or its warm-lane task run),
        oldest first: {timestamp, level, logger, message}; none before a run has claimed the task."""
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterTaskRunId
        from prefect.client.schemas.objects import Log

        if task.flow_run_id is not None:
            run_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(task.flow_run_id)]))
        elif task.task_run_id is not None:
            run_filter = LogFilter(task_run_id=LogFilterTaskRunId(any_=[UUID(task.task_run_id)]))
        else:
            return []
        lines: list[Log] = []
        try:
            while len(lines) < limit:  # Prefect answers at most PREFECT_LOG_PAGE lines per request
                size = min(PREFECT_LOG_PAGE, limit - len(lines))
                page = self._client.read_logs(run_filter, limit=size, offset=len(lines))
                lines.extend(page)
                if len(page) < size:
                    break
        except Exception as error:
            raise ServiceUnavailable(f"Prefect did not answer for the task's logs ({error}); try again") from error
        return [
            {
                "timestamp": line.timestamp,
                "level": logging.getLevelName(line.level),
                "logger": line.name,
                "message": line.message,
            }
            for line in lines
        ]

    def prefect_healthy(self) -> bool:
        return self._client.api_healthcheck() is None

    def worker_online(self) -> bool:
        try:
            workers = self._client.read_workers_for_work_pool(self.settings.work_pool)
        except Exception:
            return False
        return any(worker.status == WorkerStatus.ONLINE for worker in workers)

    def warm_worker_online(self) -> bool:
        """Whether a task worker currently subscribes to the warm lane's task (cached for a few seconds)."""
        if self.settings.warm_workers == 0:
            return False
        now = time.monotonic()
        if now - self._warm_checked_at > WARM_WORKER_CHECK_SECONDS:
            from flows.warm_lane import run_task_warm

            try:
                response = self._client.request(
                    "POST", "/task_workers/filter", json={"task_worker_filter": {"task_keys": [run_task_warm.task_key]}}
                )
                self._warm_online = bool(response.json())
            except Exception:
                self._warm_online = False
            self._warm_checked_at = now
        return self._warm_online
