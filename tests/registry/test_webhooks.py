"""registry/webhooks and services/webhook_delivery on both databases with a real receiver on 127.0.0.1: where a
webhook may go (SSRF), which events reach the outbox in the change's transaction, signatures that the Standard
Webhooks library verifies, retries with backoff after a 500, giving up, refusals and redirects at delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import itertools
import json
import time
from datetime import datetime

import pytest
from sqlmodel import Session, col, select
from standardwebhooks import Webhook as SpecWebhook

from commons.db import get_engine
from commons.errors import InvalidInput
from commons.webhook_settings import WebhookSettings
from registry import tasks as task_rows
from registry.models import Task, User, WebhookDelivery
from registry.webhooks import outbox, task_hooks
from registry.webhooks.addresses import AddressPolicy, check_url
from registry.webhooks.subscriptions import NewWebhook, create_webhook, task_secret
from registry.webhooks.vocabulary import ItemEvent
from services.webhook_delivery import deliver_due
from tests.factories import pending_task
from tests.webhook_receiver import Received, receiving

OPEN = AddressPolicy(allow_private=True)
CLOSED = AddressPolicy()
REFUSED = {
    "http://127.0.0.1:8080/hook": "loopback",
    "http://localhost:8080/hook": "loopback",  # a name: resolved, every address checked
    "http://10.1.2.3/hook": "private",
    "http://192.168.0.7/hook": "private",
    "http://169.254.169.254/latest/meta-data/": "link-local",  # the cloud metadata service
    "http://[::1]/hook": "loopback",
    "http://[::ffff:127.0.0.1]/hook": "loopback",  # an IPv4-mapped IPv6 address goes to 127.0.0.1
    "http://[fe80::1]/hook": "link-local",
    "http://100.64.0.1/hook": "non-public",  # carrier-grade NAT
    "http://0.0.0.0:8000/hook": "unspecified",
    "http://224.0.0.1/hook": "multicast",
}


def fast(*, allow_private: bool = True, max_attempts: int = 6) -> WebhookSettings:
    return WebhookSettings(
        allow_private=allow_private, max_attempts=max_attempts, retry_base_seconds=0.05, timeout_seconds=5
    )


@pytest.mark.parametrize(("url", "kind"), REFUSED.items())
def test_addresses_inside_the_network_are_refused(url: str, kind: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url, CLOSED)
    assert f"a {kind} address" in refused.value.message or f"an {kind} address" in refused.value.message
    assert "COMMONS_WEBHOOK_ALLOW_PRIVATE" in refused.value.message and refused.value.field == "url"


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "https://user:pw@example.org/x", "https:///nohost", "hook.example.org/x"]
)
def test_only_absolute_http_urls_without_credentials(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url, OPEN)


def test_public_addresses_pass_and_an_admin_opens_more() -> None:
    target = check_url("https://93.184.215.14/hooks?x=1", CLOSED)
    assert (target.port, target.path, target.host_header) == (443, "/hooks?x=1", "93.184.215.14")
    lab = AddressPolicy(allowed_networks=(ipaddress.ip_network("10.1.0.0/16"),))
    assert check_url("http://10.1.2.3:9000/x", lab).host_header == "10.1.2.3:9000"
    with pytest.raises(InvalidInput):
        check_url("http://10.2.0.1/x", lab)
    assert check_url("http://127.0.0.1/x", OPEN).addresses[0].is_loopback
    with pytest.raises(InvalidInput):  # never multicast, even with private addresses allowed
        check_url("http://224.0.0.1/x", OPEN)


def _deliveries(session: Session, **where: str) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(col(WebhookDelivery.created_at), col(WebhookDelivery.id))
    for name, value in where.items():
        query = query.where(getattr(WebhookDelivery, name) == value)
    return list(session.exec(query))


def test_a_task_s_events_reach_the_outbox_as_they_happen(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        task = pending_task(session, owner_name="ada")
        task_hooks.attach(session, task, url="http://127.0.0.1:9/hook", events=["start", "logs", "completed"])
        owner = session.get(User, task.owner_id)
        assert owner is not None
        spec = NewWebhook(url="http://127.0.0.1:9/items", events=[ItemEvent.TASK_ENDED, ItemEvent.VERSION_CREATED])
        hook = create_webhook(session, owner=owner, spec=spec, policy=OPEN, max_per_user=5)
        session.commit()
        assert task_rows.mark_running(session, task=task, flow_run_id="run-1")
        task_rows.set_step(session, task=task, name="init", status="running")
        task_rows.add_epoch(session, task=task, record={"epoch": 1}, progress=0.5)  # output: not in the filter
        assert task_rows.finish(session, task=task, status="succeeded", outputs=[{"name": "a.png", "size": 1}])
        task_rows.set_step(session, task=task, name="publish", status="succeeded")  # after the end: no event
        session.commit()
        own = _deliveries(session, task_id=task.id, owner_id=owner.id)
        events = [(row.event, row.webhook_id) for row in own]
        assert events == [("task.start", None), ("task.logs", None), ("task.completed", None), ("task.ended", hook.id)]
        body = json.loads(own[2].payload)
        assert body["type"] == "task.completed" and body["data"]["status"] == "succeeded"
        assert body["data"]["outputs"] == [{"name": "a.png", "size": 1, "sha256": None, "content_type": None}]
        assert "url" not in json.dumps(body["data"]["outputs"])  # no presigned URL leaves the commons
        assert json.loads(own[1].payload)["data"]["log"] == "init running"
        ended = json.loads(own[3].payload)["data"]
        assert ended["resource"] == "ada/r-ada" and "outputs" not in ended and "params" not in ended


def _verify(secret: str, seen: Received) -> dict:
    """The body as the Standard Webhooks library verifies it, and the signature recomputed from the spec's text."""
    payload = SpecWebhook(secret).verify(seen.body, seen.headers)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{seen.headers['webhook-id']}.{seen.headers['webhook-timestamp']}.{seen.body}".encode()
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert seen.headers["webhook-signature"] == expected
    return dict(payload)


def _send_until_done(database_url: str, delivery_id: str, settings: WebhookSettings) -> WebhookDelivery:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deliver_due(database_url, settings=settings)
        with Session(get_engine(database_url)) as session:
            row = session.get(WebhookDelivery, delivery_id)
            assert row is not None
            if row.status != "pending":
                return row
        time.sleep(0.02)
    raise AssertionError("the delivery never ended")


def _queued(database_url: str, url: str) -> tuple[str, str]:
    """A task-webhook delivery to `url` (the task starts): its id and the secret that signs it."""
    with Session(get_engine(database_url)) as session:
        task = pending_task(session, owner_name=f"u{time.monotonic_ns()}")
        task_hooks.attach(session, task, url=url, events=["start"])
        task_rows.mark_running(session, task=task, flow_run_id="run")
        session.commit()
        [row] = _deliveries(session, task_id=task.id)
        return row.id, task_secret(session, owner_id=task.owner_id)


def test_a_delivery_is_signed_as_the_spec_says_and_retried_after_500s(database_url: str) -> None:
    with receiving(answers=[500, 503]) as receiver:
        delivery_id, secret = _queued(database_url, receiver.url("/hook?k=1"))
        row = _send_until_done(database_url, delivery_id, fast())
        assert (row.status, row.attempts, row.last_status_code) == ("succeeded", 3, 200)
        assert [entry["status_code"] for entry in row.attempt_log] == [500, 503, 200]
        times = [datetime.fromisoformat(entry["at"]) for entry in row.attempt_log]
        waits = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
        assert waits[0] >= 0.05 and waits[1] >= 0.2, f"backoff of base, then 4x base: {waits}"
        seen = receiver.received
        assert len(seen) == 3 and {item.headers["webhook-id"] for item in seen} == {delivery_id}
        assert all(item.path == "/hook?k=1" for item in seen)
        for item in seen:
            payload = _verify(secret, item)
            assert payload["type"] == "task.start" and payload["data"]["status"] == "running"
        with pytest.raises(Exception, match="No matching signature"):
            SpecWebhook("whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()).verify(
                seen[0].body, seen[0].headers
            )


def test_attempts_are_bounded(database_url: str) -> None:
    with receiving(answers=[500] * 10) as receiver:
        delivery_id, _ = _queued(database_url, receiver.url())
        row = _send_until_done(database_url, delivery_id, fast(max_attempts=3))
        assert (row.status, row.attempts, len(receiver.received)) == ("failed", 3, 3)
        assert row.last_error == "the receiver answered 500" and row.finished_at is not None


def test_a_private_address_is_refused_at_delivery_too(database_url: str) -> None:
    with receiving() as receiver:
        delivery_id, _ = _queued(database_url, receiver.url(host="localhost"))
        row = _send_until_done(database_url, delivery_id, fast(allow_private=False))
        assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, None)
        assert row.last_error is not None and row.last_error.startswith("refused: webhooks are not sent to 'localhost'")
        assert "loopback" in row.last_error
        time.sleep(0.2)
        assert receiver.received == [], "nothing reached the receiver"


def test_the_connection_is_pinned_to_the_checked_address_and_keeps_the_name(database_url: str) -> None:
    with receiving() as receiver:
        delivery_id, _ = _queued(database_url, receiver.url(host="localhost"))
        assert _send_until_done(database_url, delivery_id, fast()).status == "succeeded"
        assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"


def test_redirects_are_not_followed(database_url: str) -> None:
    with receiving(answers=[302] * 10) as receiver:
        delivery_id, _ = _queued(database_url, receiver.url())
        row = _send_until_done(database_url, delivery_id, fast(max_attempts=2))
        assert row.status == "failed" and row.last_status_code == 302
        assert row.last_error is not None and "follow no redirects" in row.last_error
        assert [item.path for item in receiver.received] == ["/hook", "/hook"]


def test_a_payload_is_bounded() -> None:
    body = outbox.body_of("task.output", {"id": "t", "url": "/api/v1/tasks/t", "steps": ["x" * 100] * 1000})
    assert len(body.encode()) < outbox.PAYLOAD_LIMIT
    assert json.loads(body)["data"] == {"id": "t", "truncated": True, "url": "/api/v1/tasks/t"}


def test_a_user_has_a_bounded_number_of_webhooks(database_url: str) -> None:
    with Session(get_engine(database_url)) as session:
        task = pending_task(session, owner_name="bo")
        owner = session.get(User, task.owner_id)
        assert owner is not None and session.get(Task, task.id) is not None
        spec = NewWebhook(url="http://127.0.0.1:9/", events=[ItemEvent.VERSION_CREATED])
        for _ in range(2):
            create_webhook(session, owner=owner, spec=spec, policy=OPEN, max_per_user=2)
        with pytest.raises(Exception, match="the most one user may have"):
            create_webhook(session, owner=owner, spec=spec, policy=OPEN, max_per_user=2)
