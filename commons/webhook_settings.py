"""Webhook delivery settings, every one a `COMMONS_WEBHOOK_*` variable (kept beside `commons.settings` so that
file stays one screenful per concern; read by the API, which registers webhooks and sends them)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebhookSettings(BaseSettings):
    """Where webhooks may go, how hard they are tried, and how many a user may have."""

    model_config = SettingsConfigDict(env_prefix="COMMONS_WEBHOOK_", extra="ignore", hide_input_in_errors=True)

    allow_private: bool = Field(
        default=False,
        description="Let webhooks reach loopback, private, link-local and other non-public addresses (a test or a "
        "closed network); off, only public addresses (and `allowed_networks`) are reached.",
    )
    allowed_networks: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated networks (CIDR) an admin lets webhooks reach although they are not public, "
        "e.g. '10.20.0.0/16' for receivers inside the organisation.",
    )
    max_attempts: int = Field(default=6, ge=1, le=20, description="Attempts per delivery before it is given up.")
    retry_base_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="Wait after the first failed attempt; each further wait is 4x."
    )
    retry_max_seconds: float = Field(default=6 * 3600, gt=0, le=86400, description="The longest wait between tries.")
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="Connect, send and read limits of one attempt, each."
    )
    max_per_user: int = Field(default=20, ge=1, le=1000, description="Webhooks one user may register.")
    poll_seconds: float = Field(default=1.0, gt=0, le=60, description="How often the sender looks for due deliveries.")
    senders: int = Field(default=4, ge=1, le=32, description="Deliveries one API process sends at once.")

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        networks = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as error:
                raise ValueError(
                    f"COMMONS_WEBHOOK_ALLOWED_NETWORKS entry {item!r} is not a network; write CIDRs such as "
                    "'10.20.0.0/16' or 'fd00::/8', comma-separated"
                ) from error
        return networks


@lru_cache
def get_webhook_settings() -> WebhookSettings:
    return WebhookSettings()
