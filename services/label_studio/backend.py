"""One commons version as a Label Studio ML backend: which kinds it answers for, what it checks at setup, and
predictions, each a commons infer task (its manifest and outputs in the commons) turned into Label Studio regions."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final

from commons.db import session_scope
from commons.errors import InvalidInput, ServiceUnavailable
from commons.hashing import sha256_json
from commons.store import keys
from registry.models import Resource, ResourceVersion, Task
from registry.rights import resource_for
from registry.schemas import TaskCreate
from registry.versions import get_version
from registry.vocabulary import TERMINAL, TaskStatus
from services.label_studio.convert import brush_label, brush_regions, choice_region, sam_params
from services.label_studio.images import task_upload
from services.label_studio.label_config import LabelConfig, read_label_config
from services.label_studio.schemas import MAX_TASKS, LabelStudioTask, Prediction, PredictRequest
from services.submission import Idempotency, Submitter, submit_task

SAM_KIND: Final = "segmenter.sam"
CLASSIFIER_PREFIX: Final = "classifier."
WAIT_SECONDS: Final = 80.0  # Label Studio waits 100 s for a prediction (ML_TIMEOUT_PREDICT)
POLL_SECONDS: Final = 0.1
TOP_K: Final = 5  # the classes a classifier ranks; the best one the Choices offer is answered


@dataclass(frozen=True)
class Backend:
    """The version a backend URL names, once the caller's `use` right on it is checked."""

    ref: str
    resource: Resource
    version: ResourceVersion

    @property
    def model_version(self) -> str:
        return f"{self.ref}:v{self.version.number}"

    def check_config(self, text: str) -> LabelConfig:
        """The labeling config, refused unless it has the control this kind answers with."""
        config = read_label_config(text)
        if self.resource.kind == SAM_KIND and config.brush is None:
            raise InvalidInput(
                f"{self.ref} segments: its labeling config needs <BrushLabels toName={config.image_name!r}>",
                field="label_config",
            )
        if self.resource.kind.startswith(CLASSIFIER_PREFIX) and config.choices is None:
            raise InvalidInput(
                f"{self.ref} classifies: its labeling config needs <Choices toName={config.image_name!r}>",
                field="label_config",
            )
        if self.resource.kind != SAM_KIND and not self.resource.kind.startswith(CLASSIFIER_PREFIX):
            raise InvalidInput(f"{self.ref} is a {self.resource.kind}; Label Studio is served for SAM and classifiers")
        return config


def open_backend(sub: Submitter, *, owner: str, name: str, version: int) -> Backend:
    """The version `owner/name` v`version` if the caller may use it (NotFound, Forbidden otherwise)."""
    ref = f"{owner}/{name}"
    resource = resource_for(sub.session, name=ref, user=sub.user, need="use")
    return Backend(ref=ref, resource=resource, version=get_version(sub.session, resource, version))


def _submit(
    sub: Submitter, backend: Backend, config: LabelConfig, task: LabelStudioTask, context: list[dict[str, Any]]
) -> Task:
    field = f"tasks[{task.id}].data.{config.image_key}"
    upload = task_upload(
        sub.session,
        store=sub.store,
        settings=sub.settings,
        owner=sub.user,
        value=task.data.get(config.image_key),
        field=field,
    )
    params = (
        sam_params(context, width=upload.width, height=upload.height)
        if backend.resource.kind == SAM_KIND
        else {"top_k": TOP_K}
    )
    spec = TaskCreate(
        resource=backend.ref, version=backend.version.number, mode="infer", inputs=[upload.id], params=params
    )
    created, _ = submit_task(sub, spec, Idempotency(None, sha256_json(spec.model_dump(mode="json"))))
    return created


def _wait(sub: Submitter, task_ids: list[str]) -> dict[str, Task]:
    """The tasks once all have ended; ServiceUnavailable naming the rest when WAIT_SECONDS pass first."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with session_scope(sub.settings.resolved_database_url) as session:
            rows = {task_id: session.get(Task, task_id) for task_id in task_ids}
        ended = {task_id: row for task_id, row in rows.items() if row is not None and row.status in TERMINAL}
        if len(ended) == len(task_ids):
            return ended
        if time.monotonic() > deadline:
            waiting = ", ".join(f"/api/v1/tasks/{t}" for t in task_ids if t not in ended)
            raise ServiceUnavailable(f"the commons' tasks are still running after {WAIT_SECONDS:.0f} s: {waiting}")
        time.sleep(POLL_SECONDS)


def _output(sub: Submitter, task: Task, suffix: str) -> dict[str, Any]:
    name = next((str(o["name"]) for o in task.outputs if str(o["name"]).endswith(suffix)), None)
    if name is None:
        raise InvalidInput(f"commons task {task.id} wrote no {suffix}")
    document: dict[str, Any] = json.loads(sub.store.get_bytes(keys.task_output(task.id, name)))
    return document


def _prediction(
    sub: Submitter, backend: Backend, config: LabelConfig, task: Task, context: list[dict[str, Any]]
) -> Prediction:
    if task.status != TaskStatus.SUCCEEDED:
        raise InvalidInput(f"commons task {task.id} {task.status}: {task.error or 'no reason given'}")
    meta = {"commons_task": task.id, "commons_task_url": f"/api/v1/tasks/{task.id}"}
    if config.brush is not None and backend.resource.kind == SAM_KIND:
        label = brush_label(config, context)
        regions, score = brush_regions(_output(sub, task, "segments.json"), brush=config.brush, label=label, meta=meta)
    elif config.choices is not None:
        top = _output(sub, task, "predictions.json")["predictions"][0]
        regions, score = choice_region(top, choices=config.choices, meta=meta)
    else:  # check_config refused this before any task ran
        raise InvalidInput("the labeling config has no control this version answers with", field="label_config")
    return Prediction(result=regions, score=score, model_version=backend.model_version)


def predict(sub: Submitter, backend: Backend, request: PredictRequest) -> list[Prediction]:
    """One commons infer task per Label Studio task (all submitted, then awaited), answered in the same order."""
    if not request.tasks:
        raise InvalidInput("send at least one task", field="tasks")
    if len(request.tasks) > MAX_TASKS:
        raise InvalidInput(
            f"{len(request.tasks)} tasks in one request; at most {MAX_TASKS}: select fewer tasks in Label Studio",
            field="tasks",
        )
    config = backend.check_config(request.label_config)
    context = request.params.context.result if request.params and request.params.context else []
    submitted = [_submit(sub, backend, config, task, context) for task in request.tasks]
    ended = _wait(sub, [task.id for task in submitted])
    return [_prediction(sub, backend, config, ended[task.id], context) for task in submitted]
