"""Standard Webhooks signatures (https://www.standardwebhooks.com): the headers `webhook-id`, `webhook-timestamp`
(Unix seconds) and `webhook-signature` ("v1,<base64 HMAC-SHA256 of id.timestamp.body>"), keyed with a secret
written "whsec_<base64>". Signed with the spec's own Python library (`standardwebhooks`)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signed_headers(*, secret: str, message_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The three headers of one attempt to send `body` (the same `message_id` on every attempt of a delivery)."""
    seconds = int((at or datetime.now(UTC)).timestamp())
    moment = datetime.fromtimestamp(seconds, UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
    }
