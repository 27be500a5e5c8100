"""The webhook sender: a thread in each API process (started in the app's lifespan, beside the reaper) that claims
due deliveries from the outbox (registry/webhooks/outbox.py), sends each signed, and records the attempt.

It runs in the API because the API is the one process every deployment runs (`commons up`, `commons serve`,
compose, Helm) and the only one holding the webhook settings; the outbox's leases let several replicas share
the work, and the rows are written by whichever process made the change (API or worker) in its own transaction.

Each attempt: the URL's host is resolved again and every address checked (registry/webhooks/addresses.py); the
connection goes to a checked address (the Host header and TLS name stay the URL's), so a name that resolves to a
private address after the check is never reached; redirects are not followed, proxies from the environment are
not used, each phase has `timeout_seconds`, and at most RESPONSE_LIMIT bytes of the answer are read.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import httpx

from commons.db import session_scope
from commons.errors import InvalidInput
from commons.webhook_settings import WebhookSettings
from registry.webhooks import outbox
from registry.webhooks.addresses import AddressPolicy, IPAddress, Target, check_url
from registry.webhooks.outbox import Outgoing, RetryPolicy
from registry.webhooks.signing import signed_headers

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)  # far above one attempt's time limits: a claimed row is not sent twice at once
RESPONSE_LIMIT = 4096
USER_AGENT = "model-commons-webhooks/0.1"


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None
    seconds: float
    final: bool = False  # no retry can help (the address is refused, the webhook is gone)


def retry_policy(settings: WebhookSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.max_attempts,
        base_seconds=settings.retry_base_seconds,
        max_seconds=settings.retry_max_seconds,
    )


def send(outgoing: Outgoing, *, settings: WebhookSettings) -> Attempt:
    """One attempt to POST `outgoing`, signed now, to a checked address of its URL."""
    started = time.monotonic()
    try:
        target = check_url(outgoing.url, AddressPolicy.from_settings(settings))
    except InvalidInput as refused:
        return Attempt(None, f"refused: {refused.message}", time.monotonic() - started, final=True)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host_header,
        **signed_headers(secret=outgoing.secret, message_id=outgoing.id, body=outgoing.body),
    }
    error = "no address to connect to"
    with httpx.Client(timeout=settings.timeout_seconds, follow_redirects=False, trust_env=False) as client:
        for address in target.addresses:
            try:
                return _post(client, target, address, headers=headers, body=outgoing.body, started=started)
            except httpx.ConnectError as failed:  # the next address of the name may answer
                error = f"could not connect to {address}: {failed}"
            except httpx.HTTPError as failed:
                return Attempt(None, f"{type(failed).__name__}: {failed}", time.monotonic() - started)
    return Attempt(None, error, time.monotonic() - started)


def _post(
    client: httpx.Client, target: Target, address: IPAddress, *, headers: dict[str, str], body: str, started: float
) -> Attempt:
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(
        "POST", target.url_at(address), headers=headers, content=body.encode(), extensions=extensions
    )
    response = client.send(request, stream=True)
    try:
        read = 0
        for chunk in response.iter_raw():
            read += len(chunk)
            if read >= RESPONSE_LIMIT:
                break
    finally:
        response.close()
    code = response.status_code
    error = None
    if 300 <= code < 400:
        where = response.headers.get("location", "")[:200]
        error = (
            f"the receiver answered {code}, a redirect to {where!r}; webhooks follow no redirects: register that URL"
        )
    elif not 200 <= code < 300:
        error = f"the receiver answered {code}"
    return Attempt(code, error, time.monotonic() - started)


def deliver_one(database_url: str, delivery_id: str, *, settings: WebhookSettings) -> None:
    """Send one claimed delivery and record the attempt."""
    with session_scope(database_url) as session:
        found = outbox.outgoing(session, delivery_id)
    if found is None:
        attempt = Attempt(None, "the webhook or its signing secret was deleted; nothing can sign it", 0.0, final=True)
    else:
        attempt = send(found, settings=settings)
    with session_scope(database_url) as session:
        outbox.record_attempt(
            session,
            delivery_id,
            policy=retry_policy(settings),
            status_code=attempt.status_code,
            error=attempt.error,
            seconds=attempt.seconds,
            final=attempt.final,
        )


def deliver_due(database_url: str, *, settings: WebhookSettings, pool: ThreadPoolExecutor | None = None) -> int:
    """Claim the due deliveries (a batch) and send them, `pool`'s threads at once; returns how many were tried."""
    with session_scope(database_url) as session:
        claimed = outbox.claim_due(session, lease=LEASE, limit=settings.senders * 4)
    if pool is None:
        for delivery_id in claimed:
            deliver_one(database_url, delivery_id, settings=settings)
    else:
        futures = [pool.submit(deliver_one, database_url, delivery_id, settings=settings) for delivery_id in claimed]
        for future in futures:
            future.result()
    return len(claimed)


class WebhookSender:
    """The loop: every `poll_seconds`, send what is due (a busy outbox is worked through without waiting)."""

    def __init__(self, *, database_url: str, settings: WebhookSettings) -> None:
        self.database_url = database_url
        self.settings = settings
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=settings.senders, thread_name_prefix="webhook-send")
        self._thread = threading.Thread(target=self._loop, name="webhook-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.settings.poll_seconds + 3 * self.settings.timeout_seconds + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.poll_seconds):
            try:
                while (
                    deliver_due(self.database_url, settings=self.settings, pool=self._pool) and not self._stop.is_set()
                ):
                    pass
            except Exception:  # one bad pass must not stop the next
                log.exception("sending webhooks failed")
