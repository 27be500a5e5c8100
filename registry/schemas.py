"""Request and response schemas (the Create / Update / Public side of the tables)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Version numbers fit a 32-bit signed column; a larger number in a request is a 422, never a database error.
MAX_VERSION: Final = 2**31 - 1
VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION, description="A version number (1, 2, …).")]

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Path words under /resources/{ref}/…: a resource may not be called so (an old bare-name URL would be ambiguous).
RESERVED_NAMES = frozenset({"versions", "grants", "access-requests", "files", "crate", "lineage"})


def check_slug(value: str) -> str:
    """A resource or group name: ValueError (for a validator) unless it is a slug."""
    if not SLUG.match(value):
        raise ValueError("a slug: lowercase letters, digits and '-', 1–64 characters, not starting or ending in '-'")
    return value


USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
Permission = Literal["use", "modify"]
Visibility = Literal["public", "private"]
Derivatives = Literal["private", "open"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: str = Field(min_length=8, max_length=256)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError("User names are 3–64 characters: letters, digits, '_', '.' or '-'; choose another")
        return value


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    username: str
    is_admin: bool = False
    disabled: bool = False


class UserUpdate(BaseModel):
    """What an administrator changes on an account."""

    model_config = ConfigDict(extra="forbid")
    disabled: bool = Field(description="true: the account's tokens are refused from its next request on.")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class PasswordChanged(TokenPublic):
    """A new sign-in token for the caller: changing the password ended every sign-in session, this one too."""

    detail: str


class ApiTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="What the token is for, e.g. 'lab laptop'.")
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="Days until it stops working (1-365); null or left out: the commons' default (90 unless set).",
    )


class ApiTokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenPublic):
    token: str = Field(description="The token itself; shown only in this answer. Send it as 'Bearer <token>'.")


class ResourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str = Field(max_length=100, description="One of the kinds the commons runs (`flows/kinds/`).")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    citation: str = Field(default="", max_length=5_000)
    license: str = Field(default="", max_length=200)
    visibility: Visibility = "private"

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is a word of the API's paths; choose another name")
        return check_slug(value)


class ResourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    citation: str | None = Field(default=None, max_length=5_000)
    license: str | None = Field(default=None, max_length=200)
    visibility: Visibility | None = Field(default=None, description="Owner only.")
    derivatives: Derivatives | None = Field(
        default=None,
        description="Owner only. 'private': what is made from this resource (trained, edited, exported versions) "
        "is readable only by those who may read this resource; 'open': its makers may share it as they like.",
    )
    download: bool | None = Field(
        default=None, description="Owner only. false: run-only — the files are presigned to the owner alone."
    )

    #: Fields only the owner (or an admin) may change.
    OWNER_FIELDS: ClassVar[frozenset[str]] = frozenset({"visibility", "derivatives", "download"})


class SourcePublic(BaseModel):
    """An item this one was made from (directly or not) that keeps it to its own audience."""

    type: Literal["resource", "dataset"]
    id: str
    name: str
    owner: str
    binds: bool = Field(description="Private and keeping its derivatives: this item's audience is bound by it.")
    readable: bool = Field(
        default=True,
        description="Whether the caller may read the source; if not, only its type and owner are shown (id and "
        "name are empty), so a private item's name is not told to those it was not shared with.",
    )


class ResourcePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    ref: str = Field(default="", description="owner/name: how the API and pages address it.")
    kind: str
    title: str
    description: str
    citation: str
    license: str
    visibility: str
    owner: str
    created_at: datetime
    latest_version: int | None
    permissions: list[str]
    derivatives: str = "private"
    download: bool = True
    sources: list[SourcePublic] = Field(default_factory=list, description="What this resource was made from.")


class VersionFile(BaseModel):
    name: str
    size: int
    sha256: str


IMAGE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,299}$")


class GpuRequest(BaseModel):
    """GPUs a task on the version needs; a worker without them runs it on its local device (process pool)."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=1, ge=0, le=16, description="Whole GPUs per task.")
    min_memory_gb: float | None = Field(
        default=None, gt=0, le=1024, description="Least memory per GPU, in GB (10^9 bytes)."
    )
    shareable: bool = Field(
        default=False,
        description="The model fits twice on one GPU: two tasks may share it (each takes one GPU slot instead of all).",
    )


class ExecutionSpec(BaseModel):
    """Where a version's tasks run: container image, GPUs, CPU and memory (become work-pool job variables)."""

    model_config = ConfigDict(extra="forbid")
    image: str | None = Field(default=None, description="Container image for docker / kubernetes work pools.")
    gpu: GpuRequest | None = None
    cpu: float | None = Field(default=None, gt=0, le=512, description="CPU cores requested.")
    memory_gb: float | None = Field(default=None, gt=0, le=8192, description="Memory requested, in GB (10^9 bytes).")

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not IMAGE_REFERENCE.match(value):
            raise ValueError("an image reference such as 'ghcr.io/org/commons-worker:1.2' (letters, digits, ._/:@-)")
        return value


class VersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    resource: str
    version: int
    digest: str
    files: list[VersionFile]
    config: dict[str, Any]
    parent: int | None = Field(description="The parent's version number (in `parent_resource`).")
    parent_resource: str | None = Field(
        default=None, description="The resource of the parent version; another resource for a trained copy."
    )
    parent_digest: str | None = None
    reported_metrics: dict[str, Any] | None
    provenance: dict[str, Any] | None = Field(
        default=None, description="For a version a task made: the task, the dataset and its digest, the parameters."
    )
    execution: ExecutionSpec | None = Field(
        default=None, description="Image, GPUs, CPU and memory its tasks ask of a docker or kubernetes work pool."
    )
    created_by: str
    created_at: datetime


class GrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, max_length=64, description="A user name, or '*' for everyone.")
    group: str | None = Field(default=None, max_length=64, description="A group name (instead of `username`).")
    permission: Permission

    @model_validator(mode="after")
    def _one_grantee(self) -> GrantCreate:
        if (self.username is None) == (self.group is None):
            raise ValueError("name exactly one grantee: `username` (a user, or '*' for everyone) or `group`")
        return self


class GrantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    username: str | None = Field(description="The user, '*' for everyone, or null for a group grant.")
    group: str | None = None
    permission: str
    created_by: str
    created_at: datetime


class AccessRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    permission: Permission
    message: str = Field(default="", max_length=2_000)
    group: str | None = Field(
        default=None, max_length=64, description="Ask for a group you maintain: approval grants the group."
    )


class _RequestFields(BaseModel):
    """What every access request shows, whatever its item: who asked for what, and what became of it."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    requester: str
    group: str | None = Field(default=None, description="The group asked for (approval grants the group).")
    permission: str
    message: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class AccessRequestPublic(_RequestFields):
    resource: str
    ref: str = Field(default="", description="The resource's owner/name: where to approve or deny.")
    made_from_yours: str | None = Field(
        default=None,
        description="In an inbox: the caller's own resource or dataset this resource was made from, when the "
        "caller is not its owner. They cannot approve it; granting the source (or releasing its derivatives) "
        "is what lets the requester read it.",
    )


class DatasetAccessRequestPublic(_RequestFields):
    dataset: str = Field(description="The dataset's name.")
    dataset_id: str
    ref: str = Field(description="The dataset's owner/slug: where to approve or deny.")


class UploadPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    size: int
    sha256: str
    content_type: str
    width: int
    height: int


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource: str
    version: VersionNumber | Literal["latest"] = "latest"
    mode: Literal["infer", "train", "evaluate", "export", "inspect", "edit", "embed"] = Field(
        default="infer",
        description="infer: predictions for uploaded photos; train, evaluate: on a dataset; export: (classifiers) "
        "ONNX, TorchScript and an INT8 version calibrated on a dataset, (SAM) the prompt decoder as ONNX; inspect "
        "(classifiers): one photo layer by layer; edit (classifiers): one weight edit published as a new version; "
        "embed (SAM): one photo's image embedding, for decoding prompts in the browser.",
    )
    inputs: list[str] = Field(default_factory=list, max_length=256, description="Upload ids (infer; one for inspect).")
    dataset: str | None = Field(default=None, description="A dataset: owner/slug or its id (train, evaluate, export).")
    lane: Literal["auto", "warm", "batch"] = Field(
        default="auto",
        description="warm: a long-lived worker with code loaded (fast start, small jobs); batch: a flow run of "
        "the deployment on a work pool (own process or container); auto: warm for small infer tasks.",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    webhook: str | None = Field(
        default=None, max_length=2000, description="A URL the task's events are POSTed to, signed (see /webhooks)."
    )
    webhook_events_filter: list[Literal["start", "output", "logs", "completed"]] | None = Field(
        default=None, max_length=4, description="The events the webhook gets; default output and completed."
    )


class StepPublic(BaseModel):
    name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None


class EpochMetrics(BaseModel):
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float


class TaskLogLine(BaseModel):
    timestamp: datetime
    level: str
    logger: str
    message: str


class OutputPublic(BaseModel):
    name: str
    size: int
    sha256: str
    url: str | None = Field(description="Presigned download URL; null when the output is withheld (see `withheld`).")
    withheld: str | None = Field(
        default=None,
        description="Why the file is not offered: it carries weights or photos of an item you may not download.",
    )


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    status: str
    resource: str | None = Field(description="The resource whose version runs; null for a task on a dataset alone.")
    version: int | None
    mode: str
    lane: str
    params: dict[str, Any]
    inputs: list[str]
    dataset: str | None = None
    dataset_digest: str | None = None
    reproduces: str | None = Field(default=None, description="The task this one re-runs.")
    epochs_done: int = Field(default=0, description="Finished epochs so far (train); see GET /tasks/{id}/metrics.")
    result: dict[str, Any] | None = Field(default=None, description="What the task published, e.g. a new version.")
    steps: list[StepPublic]
    progress: float
    error: str | None
    outputs: list[OutputPublic]
    manifest_url: str | None
    flow_run_id: str | None = Field(description="The Prefect flow run executing a batch-lane task.")
    task_run_id: str | None = Field(
        default=None, description="The Prefect task run executing a warm-lane task (inside a long-lived worker)."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
