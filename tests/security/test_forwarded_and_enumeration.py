"""X-Forwarded-For counts only from a trusted proxy, and guessing names through grants and access requests is
rate-limited per user.

Before: uvicorn believed any X-Forwarded-For from loopback, so a client there rotating the header got a fresh
sign-in window every attempt; and a grant to a guessed name said whether that user exists, without limit.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from commons.settings import Settings
from launcher.stack import Stack
from registry.migrate import upgrade
from tests.api.test_security import InProcess, assert_rate_limited, in_process_settings, sign_in, sign_up
from tests.conftest import free_port_block


def rotating(index: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.{index + 1}"}


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    """An in-process app on a fresh SQLite file, with small limits."""
    return in_process_settings(
        tmp_path, sign_in_rate_limit="3/minute", grant_rate_limit="4/minute", access_request_rate_limit="2/minute"
    )


def test_rotating_forwarded_for_from_loopback_does_not_reset_the_sign_in_limit(local_settings: Settings) -> None:
    app = create_app(local_settings)  # COMMONS_TRUSTED_PROXIES unset: no proxy is believed
    loopback = InProcess(app, "127.0.0.1")
    assert sign_up(loopback, "alice").status_code == 201
    for index in range(3):
        answer = loopback.post(
            "/api/v1/auth/token", data={"username": "alice", "password": "wrong password"}, headers=rotating(index)
        )
        assert answer.status_code == 401
    refused = loopback.post("/api/v1/auth/token", data={"username": "alice", "password": "x"}, headers=rotating(9))
    assert_rate_limited(refused, window_seconds=60)
    assert sign_in(InProcess(app, "203.0.113.50"), "alice").status_code == 200, "another peer has its own window"


def test_a_trusted_proxy_reports_the_client_and_only_its_own_hop_counts(local_settings: Settings) -> None:
    app = create_app(local_settings.model_copy(update={"trusted_proxies": "10.0.0.0/8, 127.0.0.1"}))
    proxy = InProcess(app, "10.1.2.3")
    assert sign_up(proxy, "bob").status_code == 201
    # The proxy appends the address it saw; whatever the client wrote further left is its own word.
    for index in range(3):
        spoofed = {"X-Forwarded-For": f"192.0.2.{index}, 203.0.113.9"}
        answer = proxy.post("/api/v1/auth/token", data={"username": "bob", "password": "wrong"}, headers=spoofed)
        assert answer.status_code == 401
    chained = {"X-Forwarded-For": "192.0.2.77, 203.0.113.9, 127.0.0.1"}  # a second trusted hop is skipped
    refused = proxy.post("/api/v1/auth/token", data={"username": "bob", "password": "x"}, headers=chained)
    assert_rate_limited(refused, window_seconds=60)
    other = proxy.post("/api/v1/auth/token", data={"username": "bob", "password": "x"}, headers=rotating(4))
    assert other.status_code == 401, "another client behind the same proxy has its own window"
    # A peer that is not a proxy is never believed.
    direct = InProcess(app, "203.0.113.200")
    for index in range(3):
        direct.post("/api/v1/auth/token", data={"username": "bob", "password": "x"}, headers=rotating(20 + index))
    answer = direct.post("/api/v1/auth/token", data={"username": "bob", "password": "x"}, headers=rotating(30))
    assert_rate_limited(answer, window_seconds=60)


def test_a_bad_trusted_proxies_setting_is_refused_at_start(local_settings: Settings) -> None:
    with pytest.raises(ValueError, match="COMMONS_TRUSTED_PROXIES"):
        create_app(local_settings.model_copy(update={"trusted_proxies": "10.0.0.1,proxy.example"}))
    for field in ("grant_rate_limit", "access_request_rate_limit"):
        with pytest.raises(ValueError, match=f"COMMONS_{field.upper()}"):
            create_app(local_settings.model_copy(update={field: "lots"}))


def test_the_real_api_ignores_forwarded_for_from_loopback(shared_services: Settings, tmp_path: Path) -> None:
    """The whole chain, uvicorn included, as `commons up` starts it (with --no-proxy-headers)."""
    url = f"sqlite:///{tmp_path / 'commons.db'}"
    upgrade(url)
    settings = shared_services.model_copy(
        update={
            "data_dir": tmp_path,
            "database_url": url,
            "api_port": free_port_block(1),
            "sign_in_rate_limit": "3/minute",
        }
    )
    api = Stack(settings)
    try:
        api.start_api()
        with httpx.Client(base_url=settings.api_url + "/api/v1", timeout=30) as client:
            statuses = [
                client.post(
                    "/auth/token", data={"username": "nobody", "password": "wrong password"}, headers=rotating(index)
                ).status_code
                for index in range(4)
            ]
        assert statuses == [401, 401, 401, 429], statuses
    finally:
        api.stop()


def owner_and_resource(client: InProcess, name: str, *, visibility: str = "private") -> str:
    assert sign_up(client, name).status_code == 201
    client.headers["Authorization"] = f"Bearer {sign_in(client, name).json()['access_token']}"
    resource = f"r-{uuid.uuid4().hex[:8]}"
    made = client.post(
        "/api/v1/resources",
        json={"name": resource, "kind": "segmenter.sam", "title": "T", "visibility": visibility},
    )
    assert made.status_code == 201, made.text
    return resource


def test_grants_to_guessed_names_are_rate_limited_per_user(local_settings: Settings) -> None:
    app = create_app(local_settings)
    alice, bob = InProcess(app, "203.0.113.7"), InProcess(app, "203.0.113.7")
    resource = owner_and_resource(alice, "alice")
    other = owner_and_resource(bob, "bob")
    dataset = alice.post("/api/v1/datasets", json={"name": "Pets", "classes": ["cat"]})
    assert dataset.status_code == 201, dataset.text
    guesses = [f"guess{index}" for index in range(4)]
    answers = [
        alice.post(f"/api/v1/resources/{resource}/grants", json={"username": name, "permission": "use"})
        for name in guesses[:3]
    ]
    assert [answer.status_code for answer in answers] == [422, 422, 422], [a.text for a in answers]
    # dataset grants count in the same window
    last = alice.post(
        f"/api/v1/datasets/{dataset.json()['id']}/grants", json={"username": guesses[3], "permission": "use"}
    )
    assert last.status_code == 422, last.text
    refused = alice.post(f"/api/v1/resources/{resource}/grants", json={"username": "bob", "permission": "use"})
    assert_rate_limited(refused, window_seconds=60)
    assert "grants created" in refused.json()["detail"]
    refused = alice.post(
        f"/api/v1/datasets/{dataset.json()['id']}/grants", json={"username": "bob", "permission": "use"}
    )
    assert refused.status_code == 429
    assert alice.get(f"/api/v1/resources/{resource}/grants").json() == [], "a refused grant stores nothing"
    granted = bob.post(f"/api/v1/resources/{other}/grants", json={"username": "alice", "permission": "use"})
    assert granted.status_code == 201, "another user has a window of their own"


def test_access_requests_are_rate_limited_per_user(local_settings: Settings) -> None:
    app = create_app(local_settings)
    owner, asker = InProcess(app, "203.0.113.7"), InProcess(app, "203.0.113.8")
    public = owner_and_resource(owner, "owner", visibility="public")
    assert sign_up(asker, "asker").status_code == 201
    asker.headers["Authorization"] = f"Bearer {sign_in(asker, 'asker').json()['access_token']}"
    first = asker.post(f"/api/v1/resources/{public}/access-requests", json={"permission": "use"})
    assert first.status_code == 201, first.text
    probe = asker.post(f"/api/v1/resources/{public}/access-requests", json={"permission": "use", "group": "lab-x"})
    assert probe.status_code == 404 or probe.status_code == 422, probe.text
    refused = asker.post(f"/api/v1/resources/{public}/access-requests", json={"permission": "modify"})
    assert_rate_limited(refused, window_seconds=60)
    assert "access requests made" in refused.json()["detail"]
