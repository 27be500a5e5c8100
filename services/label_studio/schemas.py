"""The ML backend protocol's bodies (label-studio-ml-backend's `_wsgi` routes), bounded; unknown keys ignored, as
Label Studio adds fields between releases."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

MAX_TASKS: Final = 16
MAX_CONTEXT_REGIONS: Final = 64
MAX_TEXT: Final = 100_000


class SetupRequest(BaseModel):
    """POST /setup: Label Studio connects a project (its labeling config is `schema`)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    project: str | None = Field(default=None, max_length=200)
    label_schema: str | None = Field(default=None, alias="schema", max_length=MAX_TEXT)
    hostname: str | None = Field(default=None, max_length=2000)
    extra_params: dict[str, Any] | None = None


class SetupResponse(BaseModel):
    model_version: str


class HealthResponse(BaseModel):
    status: str
    model_class: str
    model_version: str


class LabelStudioTask(BaseModel):
    """One Label Studio task: its id and data (the image is `data[<the Image tag's value key>]`)."""

    model_config = ConfigDict(extra="ignore")

    # Label Studio's task ids are database ids; bounded like every number the API takes.
    id: Annotated[int, Field(ge=0, le=2**63 - 1)] | Annotated[str, Field(max_length=200)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class PredictContext(BaseModel):
    """What an annotator drew for interactive pre-annotation: keypoint and rectangle regions."""

    model_config = ConfigDict(extra="ignore")

    result: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_CONTEXT_REGIONS)


class PredictParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    context: PredictContext | None = None


class PredictRequest(BaseModel):
    """POST /predict: tasks to pre-annotate (every prediction is one commons task)."""

    model_config = ConfigDict(extra="ignore")

    tasks: list[LabelStudioTask] = Field(max_length=1000)
    project: str | None = Field(default=None, max_length=200)
    label_config: str = Field(max_length=MAX_TEXT)
    params: PredictParams | None = None


class Prediction(BaseModel):
    """One task's prediction: Label Studio regions, a score, the version that made it."""

    result: list[dict[str, Any]]
    score: float | None
    model_version: str


class PredictResponse(BaseModel):
    results: list[Prediction]


class WebhookEvent(BaseModel):
    """POST /webhook: Label Studio's events (ANNOTATION_CREATED, ANNOTATION_UPDATED, START_TRAINING, …)."""

    model_config = ConfigDict(extra="ignore")

    action: str = Field(max_length=100)
    project: dict[str, Any] | None = None
    annotation: dict[str, Any] | None = None


class WebhookAnswer(BaseModel):
    status: str
    action: str
    message: str
