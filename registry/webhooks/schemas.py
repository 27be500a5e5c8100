"""Requests and answers of the webhook routes (api/routes/webhooks.py); views in registry/views/webhooks.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from registry.webhooks.vocabulary import ItemEvent


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="Where to POST the events (http or https; public addresses only).")
    events: list[ItemEvent] = Field(
        min_length=1,
        max_length=len(ItemEvent),
        description="version.created, access.requested, task.ended (a task ran your resource or read your dataset).",
    )
    resource: str | None = Field(default=None, max_length=200, description="Only this resource of yours (owner/name).")
    dataset: str | None = Field(default=None, max_length=200, description="Only this dataset of yours (owner/slug).")
    description: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")


class WebhookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    url: str
    events: list[str]
    resource: str | None = Field(description="The one resource it is for (owner/name); null with `dataset` null: all.")
    dataset: str | None = Field(description="The one dataset it is for (owner/slug).")
    description: str
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="The signing key (whsec_…); also at GET /webhooks/{id}/secret.")


class SigningSecret(BaseModel):
    key: str = Field(description="whsec_<base64>: verify the webhook-signature header with it (Standard Webhooks).")


class AttemptPublic(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    seconds: float


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str = Field(description="The webhook-id header: the same on every attempt (deduplicate on it).")
    webhook_id: str | None = Field(description="The registered webhook; null for a task's own webhook.")
    task_id: str | None
    event: str
    url: str
    status: str = Field(description="pending (sending or waiting to retry), succeeded, or failed (gave up).")
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next, while pending.")
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[AttemptPublic]
    created_at: datetime
    finished_at: datetime | None


class DeliveryDetail(DeliveryPublic):
    payload: dict[str, Any] = Field(description="The body sent: {type, timestamp, data}.")


class PingSent(BaseModel):
    delivery: DeliveryPublic
