"""Label Studio's ML backend protocol for one commons version: connect a Label Studio project to
`/api/v1/label-studio/{owner}/{name}/{version}` with HTTP basic auth (user: your user name, password: one of your
API tokens); every prediction is a commons infer task with its manifest (see `services/label_studio/`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from api.deps import ClientAddress, DispatcherDep, OptionalUser, SessionDep, SettingsDep, StoreDep
from commons.errors import Unauthorized
from registry.api_tokens import is_api_token, user_for_api_token
from registry.models import User
from services.label_studio.backend import Backend, open_backend, predict
from services.label_studio.schemas import (
    HealthResponse,
    PredictRequest,
    PredictResponse,
    SetupRequest,
    SetupResponse,
    WebhookAnswer,
    WebhookEvent,
)
from services.submission import Submitter

router = APIRouter(prefix="/label-studio/{owner}/{name}/{version}", tags=["label-studio"])
basic = HTTPBasic(auto_error=False)
HOW = (
    "connect the ML backend with basic auth: user name your commons user name, password one of your commons API "
    "tokens (mc_…); or send 'Authorization: Bearer <API token>'"
)
Owner = Annotated[str, Path(max_length=64)]
Name = Annotated[str, Path(max_length=64)]
Version = Annotated[int, Path(ge=1, le=1_000_000)]


def get_label_studio_user(
    session: SessionDep, bearer: OptionalUser, credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]
) -> User:
    """The caller: a Bearer token, or basic auth whose password is an API token (never the account's password)."""
    if bearer is not None:
        return bearer
    if credentials is None or not is_api_token(credentials.password):
        raise Unauthorized(HOW)
    user = user_for_api_token(session, credentials.password)
    if credentials.username and credentials.username != user.username:
        raise Unauthorized(f"the API token is not {credentials.username!r}'s; {HOW}")
    return user


def get_backend(
    owner: Owner,
    name: Name,
    version: Version,
    user: Annotated[User, Depends(get_label_studio_user)],
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    address: ClientAddress,
) -> tuple[Submitter, Backend]:
    sub = Submitter(user=user, session=session, store=store, settings=settings, dispatcher=dispatcher, address=address)
    return sub, open_backend(sub, owner=owner, name=name, version=version)


BackendDep = Annotated[tuple[Submitter, Backend], Depends(get_backend)]


@router.get("/health", response_model=HealthResponse)
def health(backend: BackendDep) -> HealthResponse:
    """UP when the version exists and the caller may use it."""
    _, found = backend
    return HealthResponse(status="UP", model_class=f"commons {found.resource.kind}", model_version=found.model_version)


@router.post("/setup", response_model=SetupResponse)
def setup(request: SetupRequest, backend: BackendDep) -> SetupResponse:
    """Label Studio connects a project: its labeling config must have the control this kind answers with
    (BrushLabels for SAM, Choices for a classifier) on an Image."""
    _, found = backend
    if request.label_schema is not None:
        found.check_config(request.label_schema)
    return SetupResponse(model_version=found.model_version)


@router.post("/predict", response_model=PredictResponse)
def predict_tasks(request: PredictRequest, backend: BackendDep) -> PredictResponse:
    """Pre-annotations for at most 16 tasks: SAM masks (prompted by the annotator's keypoints and rectangles, or
    automatic) as brush regions, or a classifier's best class as a choice; each region's `meta.commons_task`
    names the commons task (its manifest, outputs, reproduction)."""
    sub, found = backend
    return PredictResponse(results=predict(sub, found, request))


@router.post("/webhook", status_code=status.HTTP_201_CREATED, response_model=WebhookAnswer)
def webhook(event: WebhookEvent, backend: BackendDep) -> WebhookAnswer:
    """Label Studio's events (annotation created, updated, deleted; start training), acknowledged: the commons
    trains from datasets, not from single annotations."""
    _, found = backend
    return WebhookAnswer(
        status="acknowledged",
        action=event.action,
        message=f"{found.model_version} trains from a dataset: add the annotated photos to a dataset, then "
        "submit a train task on it",
    )
