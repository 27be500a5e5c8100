"""The one typed Settings object; every field has a `COMMONS_` environment variable."""

from __future__ import annotations

import ipaddress
import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"  # noqa: S105 - refused outside development
DEVELOPMENT_S3_ACCESS_KEY = "commons-dev-access"
DEVELOPMENT_S3_SECRET_KEY = "commons-dev-secret"  # noqa: S105 - refused outside development
PLACEHOLDER_SECRETS = {DEVELOPMENT_SECRET_KEY, DEVELOPMENT_S3_SECRET_KEY, "change-me", "changeme", "secret", ""}
# The project's own worker images, as deploy/compose.yaml (model-commons-worker) and the Helm chart's
# workerImage (model-commons/worker) name them: the only images a version may name unless an admin says more.
DEFAULT_ALLOWED_IMAGES = ("model-commons-worker:0.1.0", "model-commons/worker:0.1.0")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class Settings(BaseSettings):
    """Configuration of every Model Commons process, read from `COMMONS_*` variables."""

    # Secrets stay out of validation errors and of repr() (tracebacks, test reports, logs).
    model_config = SettingsConfigDict(env_prefix="COMMONS_", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = "development"
    extra_kinds: list[str] = Field(
        default_factory=list,
        description="Modules that each export a kind (`KIND`, a flows.kinds.spec.KindSpec) beside the built-in "
        "ones, as a JSON list; the API and every worker must be able to import them (see docs/architecture.md).",
    )
    data_dir: Path = Field(default=Path(".data"), description="Folder of the embedded stack's state.")
    host: str = Field(default="127.0.0.1", description="Address every embedded server listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_max_in_flight: int = Field(
        default=24,
        ge=1,
        le=1000,
        description="Requests one API process works on at once; the rest wait their turn before touching the "
        "database. Keep it below the thread pool (40) and the database pool (SQLite 60, PostgreSQL 40 per "
        "process; PostgreSQL's max_connections must cover every replica's pool plus the workers).",
    )
    api_max_connections: int = Field(
        default=1000,
        ge=16,
        le=100_000,
        description="Connections (and requests) one API process holds at once (uvicorn --limit-concurrency); past "
        "it new requests get 503 at once. Bounds sockets, file descriptors and spooled bodies per process.",
    )
    api_keep_alive_seconds: int = Field(
        default=5, ge=1, le=300, description="An idle kept-alive connection is closed after this many seconds."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body of a route without a limit of its own (JSON, forms); a larger one is "
        "answered 413 before it is read. Upload routes use max_upload_bytes, max_weights_bytes, max_zip_bytes.",
    )
    body_spool_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description="Request bodies are received before the request takes an in-flight slot: in memory up to "
        "this size, in a temporary file past it.",
    )
    body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Every request body may take this long to arrive, plus one second per body_min_bytes_per_second "
        "bytes; a slower one is answered 408 and its connection closed.",
    )
    body_min_bytes_per_second: int = Field(
        default=16 * 1024, ge=1, description="Average rate a request body must keep up past body_timeout_seconds."
    )
    max_spooled_bytes: int = Field(
        default=8 * 1024**3,
        ge=1024 * 1024,
        description="Request bodies being received or served by one API process, all together (memory and temporary "
        "files); past it a new body is answered 429 with Retry-After. At least the largest upload limit.",
    )

    database_url: str | None = Field(
        default=None, repr=False, description="SQLAlchemy URL; empty = SQLite file in data_dir (embedded)."
    )

    s3_endpoint: str | None = Field(
        default=None, description="host:port of an external S3/MinIO; empty = start SeaweedFS (embedded)."
    )
    s3_port: int = Field(default=8333, ge=1, le=65535, description="S3 port of the embedded SeaweedFS.")
    s3_access_key: str = DEVELOPMENT_S3_ACCESS_KEY
    s3_secret_key: str = Field(default=DEVELOPMENT_S3_SECRET_KEY, repr=False)
    s3_bucket: str = "commons"
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    presign_expiry_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    prefect_api_url: str | None = Field(
        default=None, description="URL of an external Prefect API; empty = start a Prefect server (embedded)."
    )
    prefect_port: int = Field(default=4200, ge=1, le=65535)
    work_pool: str = "commons-process"
    deployment_name: str = "commons"
    worker_query_seconds: float = Field(default=0.5, gt=0, le=60)
    warm_workers: int = Field(default=1, ge=0, le=64, description="Long-lived task workers (0 = no warm lane).")
    warm_worker_limit: int = Field(default=1, ge=1, le=64, description="Tasks one warm worker runs at once.")
    warm_lane_max_inputs: int = Field(
        default=8, ge=0, description="Infer tasks with at most this many inputs go to the warm lane."
    )
    warm_model_cache_bytes: int = Field(
        default=4 * 1024**3,
        ge=1,
        description="Bytes of loaded models one warm worker keeps (LRU); on a GPU also bounded by free memory.",
    )
    embedding_cache_bytes: int = Field(
        default=512 * 1024**2,
        ge=1,
        description="Bytes of SAM image embeddings one warm worker keeps in memory (LRU); the object store "
        "keeps them too (cache/embeddings/), for every worker.",
    )

    secret_key: str = Field(
        default=DEVELOPMENT_SECRET_KEY,
        repr=False,
        description="Signs and checks the API's tokens; only the API holds it. In production a process started "
        "without it (a worker) gets a random key no token matches, and the API refuses to start without it.",
    )
    token_expire_minutes: int = Field(default=24 * 60, ge=1)
    open_signup: bool = True

    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    max_weights_bytes: int = Field(default=4 * 1024 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    max_zip_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1, description="Largest zip import, compressed or uncompressed in total."
    )
    max_zip_entries: int = Field(default=20_000, ge=1, description="Most entries (files and folders) in a zip import.")
    max_zip_ratio: float = Field(
        default=100.0, gt=1, description="Highest uncompressed/compressed ratio of a zip import, per entry and overall."
    )
    max_import_pixels: int = Field(
        default=2_000_000_000, ge=1, description="Pixels one zip import may decode in all (distinct images only)."
    )
    max_import_seconds: float = Field(
        default=120.0, gt=0, description="Seconds one zip import may spend reading and decoding its images."
    )
    max_concurrent_decodes: int = Field(
        default=2, ge=1, le=64, description="Photos one process decodes at once; the others wait their turn."
    )
    max_weights_entries: int = Field(
        default=10_000, ge=1, description="Most entries in a .pth/.pt (zip) weights file: one per tensor storage."
    )
    max_legacy_weights_bytes: int = Field(
        default=1024 * 1024, ge=0, description="Largest .pth/.pt in torch's legacy (non-zip) format accepted."
    )
    max_weights_header_bytes: int = Field(
        default=16 * 1024 * 1024, ge=8, description="Largest safetensors JSON header (tensor names, shapes, offsets)."
    )

    sign_in_rate_limit: str = Field(
        default="10/minute", description="Sign-in attempts per client address, e.g. '10/minute;100/hour'."
    )
    sign_up_rate_limit: str = Field(default="5/minute;50/day", description="Sign-ups per client address.")
    token_rate_limit: str = Field(default="20/hour", description="API tokens a user may create.")
    grant_rate_limit: str = Field(
        default="30/minute;300/day", description="Grants a user may try to create (each names a user or group)."
    )
    access_request_rate_limit: str = Field(
        default="10/minute;100/day", description="Access requests a user may try to make."
    )
    min_password_score: int = Field(
        default=3, ge=0, le=4, description="Least zxcvbn strength score (0-4) a new password must reach."
    )
    api_token_default_days: int = Field(
        default=90, ge=1, le=365, description="Lifetime of an API token made without expires_in_days."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed; empty = none.",
    )
    rate_limit_storage: str = Field(
        default="memory://", description="Where rate-limit counters live (a `limits` storage URI, e.g. redis://…)."
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins (https://host[:port]) that browsers may call the API from."
    )
    hsts: bool = Field(
        default=False, description="Send Strict-Transport-Security on every response (TLS ends at a proxy)."
    )

    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics, unauthenticated, at /metrics.")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: Prefect's console lines; json: one JSON object a line, with task_id."
    )

    gpu_slots_per_device: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Tasks one GPU runs at once when their versions say `gpu.shareable`; others take the whole GPU.",
    )
    gpu_limit_name: str | None = Field(
        default=None,
        max_length=100,
        description="Prefect concurrency limit shared by the workers that see the same GPUs; "
        "empty = commons-gpu-<hostname>.",
    )
    gpu_wait_seconds: float | None = Field(
        default=None, gt=0, description="How long a task waits for a free GPU before it fails; empty = no limit."
    )
    allowed_images: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_IMAGES),
        description="Container images a version's execution.image may name (comma-separated or a JSON list; an "
        "entry ending in '*' allows every image starting with the rest). No image = the deployment's own.",
    )
    max_gpus: int = Field(default=1, ge=0, le=16, description="GPUs per task an ordinary user's version may ask for.")
    max_cpu: float = Field(default=8, gt=0, le=512, description="CPU cores per task an ordinary user may ask for.")
    max_memory_gb: float = Field(
        default=64, gt=0, le=8192, description="Memory per task (GB) an ordinary user's version may ask for."
    )
    admin_max_gpus: int = Field(
        default=8, ge=0, le=16, description="GPUs per task an admin may ask for; the deployment's ceiling."
    )
    admin_max_cpu: float = Field(default=64, gt=0, le=512, description="CPU cores per task an admin may ask for.")
    admin_max_memory_gb: float = Field(
        default=512, gt=0, le=8192, description="Memory per task (GB) an admin may ask for."
    )

    heartbeat_seconds: float = Field(default=5.0, gt=0)
    # 45: a worker host cut off from the network is noticed within a minute (tests/hosts/test_failover.py).
    stale_after_seconds: float = Field(default=45.0, gt=0, description="A running task silent this long fails.")
    reaper_interval_seconds: float = Field(default=2.0, gt=0)

    # Cost bounds, time limits and quotas (services.kinds, resources.cost, services.reaper, registry.quotas).
    warm_lane_activation_bytes: int = Field(
        default=4 * 1024**3,
        ge=1,
        description="Estimated peak activation memory a task may need on the warm lane (shared long-lived workers).",
    )
    batch_lane_activation_bytes: int = Field(
        default=24 * 1024**3, ge=1, description="Estimated peak activation memory a task may need on the batch lane."
    )
    sam_max_work_per_photo: float = Field(
        default=150_000,
        gt=0,
        description="SAM automatic masks: most estimated point passes per photo (points x crops, by crop size).",
    )
    task_time_limit_infer: float = Field(default=600, gt=0, description="Seconds an infer task may run.")
    task_time_limit_inspect: float = Field(default=600, gt=0, description="Seconds an inspect task may run.")
    task_time_limit_edit: float = Field(default=600, gt=0, description="Seconds an edit task may run.")
    task_time_limit_evaluate: float = Field(default=3600, gt=0, description="Seconds an evaluate task may run.")
    task_time_limit_export: float = Field(default=3600, gt=0, description="Seconds an export task may run.")
    task_time_limit_augment: float = Field(default=3600, gt=0, description="Seconds an augment task may run.")
    task_time_limit_train: float = Field(default=7200, gt=0, description="Seconds a train task may run.")
    max_api_tokens: int = Field(default=20, ge=1, le=10_000, description="Live API tokens one user may hold.")
    max_active_tasks: int = Field(default=10, ge=1, description="Tasks one user may have pending or running at once.")
    admin_max_active_tasks: int = Field(default=100, ge=1, description="The same for an admin.")
    max_storage_bytes: int = Field(
        default=10 * 1024**3, ge=1, description="Bytes of uploads, dataset photos and version files one user may own."
    )
    admin_max_storage_bytes: int = Field(default=1024**4, ge=1, description="The same for an admin.")
    task_resubmit_attempts: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Times the reaper resubmits a task whose Prefect run crashed before the task started.",
    )
    restart_delay_seconds: float = Field(
        default=1.0, gt=0, le=600, description="`commons up`: wait before restarting a child that died (doubles)."
    )
    restart_max_delay_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="`commons up`: the longest wait before restarting a child."
    )
    restart_limit: int = Field(
        default=5, ge=1, le=1000, description="`commons up` gives up on a child that died this often in the window."
    )
    restart_window_seconds: float = Field(
        default=60.0, gt=0, le=86400, description="`commons up`: the window restart_limit counts deaths in."
    )

    # False when a production process started without COMMONS_SECRET_KEY (a worker): see check_signing_key.
    _secret_key_given: bool = PrivateAttr(default=True)

    @field_validator("allowed_images", mode="before")
    @classmethod
    def _split_images(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as error:
                    raise ValueError(
                        f"COMMONS_ALLOWED_IMAGES is not a valid JSON list ({error.msg}); "
                        "write a JSON list or comma-separated image references"
                    ) from error
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("allowed_images")
    @classmethod
    def _check_images(cls, value: list[str]) -> list[str]:
        for image in value:
            if not image or any(character.isspace() for character in image) or "*" in image[:-1]:
                raise ValueError(
                    f"COMMONS_ALLOWED_IMAGES entry {image!r} is not an image reference; write references such as "
                    "'ghcr.io/org/commons-worker:1.2', optionally ending in '*' (no spaces, '*' only at the end)"
                )
        return value

    @model_validator(mode="after")
    def _check_execution_caps(self) -> Settings:
        for name in ("max_gpus", "max_cpu", "max_memory_gb"):
            if getattr(self, name) > getattr(self, f"admin_{name}"):
                raise ValueError(
                    f"COMMONS_{name.upper()} ({getattr(self, name)}) is above COMMONS_ADMIN_{name.upper()} "
                    f"({getattr(self, f'admin_{name}')}), the deployment's ceiling; lower the first or raise the second"
                )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment != "development":
            if "secret_key" not in self.model_fields_set:
                # A process that signs no tokens (a worker) runs without the key: give it one no token matches.
                self.secret_key = secrets.token_urlsafe(48)
                self._secret_key_given = False
            for name in ("secret_key", "s3_secret_key"):
                if getattr(self, name) in PLACEHOLDER_SECRETS:
                    raise ValueError(
                        f"COMMONS_{name.upper()} is a placeholder; set a real secret before running "
                        f"with COMMONS_ENVIRONMENT={self.environment}"
                    )
        return self

    def check_signing_key(self) -> None:
        """For the process that signs and checks tokens (the API): in production it needs COMMONS_SECRET_KEY."""
        if not self._secret_key_given:
            raise ValueError(
                f"COMMONS_SECRET_KEY is not set; the API signs and checks tokens with it: set it (a random string of "
                f"32 or more characters) in the API's environment before running with "
                f"COMMONS_ENVIRONMENT={self.environment}"
            )

    def development_secrets_in_use(self) -> list[str]:
        """The COMMONS_* variables still holding a development or placeholder secret (empty: none)."""
        names = []
        if self.secret_key in PLACEHOLDER_SECRETS:
            names.append("COMMONS_SECRET_KEY")
        if self.s3_secret_key in PLACEHOLDER_SECRETS:
            names += ["COMMONS_S3_ACCESS_KEY", "COMMONS_S3_SECRET_KEY"]
        return names

    @property
    def listens_on_loopback(self) -> bool:
        """Whether `host` is a loopback address (reachable from this machine only)."""
        host = self.host.strip("[]")
        if host.lower() in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'commons.db'}"

    @property
    def resolved_s3_endpoint(self) -> str:
        return self.s3_endpoint or f"{self.host}:{self.s3_port}"

    @property
    def resolved_prefect_api_url(self) -> str:
        return self.prefect_api_url or f"http://{self.host}:{self.prefect_port}/api"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir.resolve() / "cache"

    @property
    def deployment_full_name(self) -> str:
        return f"run-task/{self.deployment_name}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
