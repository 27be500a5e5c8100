"""Rate limits, CORS, security headers and secrets kept out of logs and error messages."""

from __future__ import annotations

import asyncio
import re
import traceback
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from api.app import create_app
from commons.settings import Settings
from registry.migrate import upgrade
from tests.conftest import RunningStack

PASSWORD = "correct horse battery"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def in_process_settings(tmp_path: Path, **limits: str) -> Settings:
    """An in-process app's settings on a fresh SQLite file (no lifespan: no Prefect, no object store calls)."""
    url = f"sqlite:///{tmp_path / 'commons.db'}"
    upgrade(url)
    return Settings(data_dir=tmp_path, database_url=url, s3_endpoint="127.0.0.1:9", **limits)  # type: ignore[arg-type]


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return in_process_settings(
        tmp_path, sign_in_rate_limit="3/minute", sign_up_rate_limit="4/minute", token_rate_limit="2/hour"
    )


class InProcess:
    """A synchronous in-process client whose requests come from `address`; the app's lifespan is not run."""

    def __init__(self, app: FastAPI, address: str = "203.0.113.7", *, base_url: str = "http://testserver") -> None:
        self.app, self.address, self.base_url = app, address, base_url
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(self.address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url, headers=self.headers) as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **kwargs)


def sign_up(client: InProcess, username: str) -> httpx.Response:
    return client.post("/api/v1/users", json={"username": username, "password": PASSWORD})


def sign_in(client: InProcess, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def assert_rate_limited(response: httpx.Response, *, window_seconds: int) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window_seconds
    body = response.json()
    assert set(body) == {"detail"}, "the error shape of every other error"
    assert f"try again in {retry_after} s" in body["detail"], body["detail"]


def test_sign_in_is_limited_per_address(local_settings: Settings) -> None:
    app = create_app(local_settings)
    first, second = InProcess(app, "203.0.113.7"), InProcess(app, "198.51.100.4")
    assert sign_up(first, "alice").status_code == 201
    for _ in range(3):
        assert sign_in(first, "alice", "wrong password").status_code == 401
    refused = sign_in(first, "alice")
    assert_rate_limited(refused, window_seconds=60)
    assert "sign-in attempts" in refused.json()["detail"] and "at most 3 per minute" in refused.json()["detail"]
    assert refused.headers["x-content-type-options"] == "nosniff", "a 429 carries the security headers too"
    assert sign_in(second, "alice").status_code == 200, "another address has its own window"
    assert_rate_limited(sign_in(first, "alice"), window_seconds=60)


def test_sign_up_is_limited_per_address(local_settings: Settings) -> None:
    app = create_app(local_settings)
    client, other = InProcess(app, "203.0.113.7"), InProcess(app, "198.51.100.4")
    assert [sign_up(client, f"user{i}").status_code for i in range(4)] == [201] * 4
    assert_rate_limited(sign_up(client, "user4"), window_seconds=60)
    assert client.post("/api/v1/auth/token", data={"username": "user0", "password": PASSWORD}).status_code == 200
    assert sign_up(other, "user4").status_code == 201


def test_token_creation_is_limited_per_user(local_settings: Settings) -> None:
    app = create_app(local_settings)
    alice, bob = InProcess(app, "203.0.113.7"), InProcess(app, "203.0.113.7")
    for client, name in ((alice, "alice"), (bob, "bob")):
        assert sign_up(client, name).status_code == 201
        client.headers["Authorization"] = f"Bearer {sign_in(client, name).json()['access_token']}"
    created = [alice.post("/api/v1/users/me/tokens", json={"name": f"t{i}"}).status_code for i in range(2)]
    assert created == [201, 201]
    refused = alice.post("/api/v1/users/me/tokens", json={"name": "t2"})
    assert_rate_limited(refused, window_seconds=3600)
    assert "API tokens created" in refused.json()["detail"]
    assert len(alice.get("/api/v1/users/me/tokens").json()) == 2, "a refused creation stores nothing"
    assert bob.post("/api/v1/users/me/tokens", json={"name": "b"}).status_code == 201, "same address, other user"
    assert alice.post("/api/v1/users/me/tokens", json={"name": "x"}).status_code == 429
    assert InProcess(app).post("/api/v1/users/me/tokens", json={"name": "x"}).status_code == 401


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sign_in_rate_limit", "ten per minute"),
        ("token_rate_limit", ""),
        ("cors_origins", "https://ok.example.org,not-an-origin"),
        ("cors_origins", "https://example.org/path"),
    ],
)
def test_bad_security_settings_are_refused_at_start(local_settings: Settings, field: str, value: str) -> None:
    """The refusal names the setting's environment variable, COMMONS_<FIELD>."""
    with pytest.raises(ValueError, match=f"COMMONS_{field.upper()}"):
        create_app(local_settings.model_copy(update={field: value}))


def test_security_headers_on_pages_api_and_docs(local_settings: Settings) -> None:
    client = InProcess(create_app(local_settings))
    store = "http://127.0.0.1:9"
    for path in ("/explore", "/tasks/some-task", "/api/v1/resources", "/api/v1/nowhere", "/static/api.js"):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'", "no inline or remote scripts on the pages"
        assert directives["frame-ancestors"] == "'none'"
        assert store in directives["img-src"] and store in directives["connect-src"], "presigned URLs load"
        assert "blob:" in directives["img-src"], "photo previews are object URLs"
        assert "strict-transport-security" not in response.headers, "plain http: no HSTS"
        assert "cross-origin-embedder-policy" not in response.headers, "only the WebAssembly page is isolated"
    segment = client.get("/segment")
    assert segment.headers["cross-origin-embedder-policy"] == "credentialless", "ONNX Runtime Web's threads"
    assert "'wasm-unsafe-eval'" in segment.headers["content-security-policy"]
    worker = client.get("/static/vendor/ort/ort.wasm.min.mjs")  # its threads' script, in an isolated page
    assert worker.headers["cross-origin-embedder-policy"] == "credentialless"
    page = client.get("/explore").text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "an inline script would be blocked by the CSP"
    docs = client.get("/docs")
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"], "Swagger UI still loads"
    assert docs.headers["x-frame-options"] == "DENY"

    assert (
        "strict-transport-security"
        in InProcess(create_app(local_settings), base_url="https://x").get("/explore").headers
    ), "https request: HSTS"
    forced = InProcess(create_app(local_settings.model_copy(update={"hsts": True}))).get("/api/v1/resources")
    assert forced.headers["strict-transport-security"].startswith("max-age=")


def test_cors_allows_only_configured_origins(local_settings: Settings) -> None:
    closed = InProcess(create_app(local_settings))
    response = closed.get("/api/v1/resources", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers, "default: same origin only"

    allowed = "https://app.example.org"
    client = InProcess(create_app(local_settings.model_copy(update={"cors_origins": f"{allowed}, http://lab:8080"})))
    response = client.get("/api/v1/resources", headers={"Origin": allowed})
    assert response.headers["access-control-allow-origin"] == allowed
    assert "access-control-allow-credentials" not in response.headers, "bearer tokens, no cookies"
    preflight = client.options(
        "/api/v1/tasks",
        headers={
            "Origin": "http://lab:8080",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://lab:8080"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    other = client.get("/api/v1/resources", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    refused = client.options(
        "/api/v1/tasks", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert refused.status_code == 400


def test_database_password_stays_out_of_errors(tmp_path: Path) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql+psycopg://commons:{secret}@127.0.0.1:9/commons",
        s3_endpoint="127.0.0.1:9",
    )
    with pytest.raises(OperationalError) as caught:  # unhandled: uvicorn would log this traceback
        InProcess(create_app(settings)).post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
    printed = "".join(traceback.format_exception(caught.value))
    assert "127.0.0.1" in printed, "the error says which database could not be reached"
    assert secret not in printed
    assert PASSWORD not in printed


def test_passwords_and_tokens_never_reach_the_api_log(stack: RunningStack) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    client = stack.client()
    name = f"user-{uuid.uuid4().hex[:10]}"
    assert client.http.post("/users", json={"username": name, "password": password}).status_code == 201
    # failures log more than successes: a wrong password, a bad form, a rejected sign-up with the password in it
    assert client.http.post("/auth/token", data={"username": name, "password": password + "x"}).status_code == 401
    assert client.http.post("/users", json={"username": "!", "password": password}).status_code == 422
    jwt = client.sign_in(name, password)
    created = client.http.post("/users/me/tokens", json={"name": "laptop"})
    assert created.status_code == 201
    api_token = created.json()["token"]
    scripted = stack.client()
    scripted.http.headers["Authorization"] = f"Bearer {api_token}"
    assert scripted.http.get("/users/me").json()["username"] == name
    assert client.http.delete(f"/users/me/tokens/{created.json()['id']}").status_code == 204
    assert scripted.http.get("/users/me").status_code == 401, "a revoked token is refused"
    bogus = f"mc_{uuid.uuid4().hex}"
    assert stack.client().http.get("/users/me", headers={"Authorization": f"Bearer {bogus}"}).status_code == 401

    logs = stack.settings.data_dir / "logs"
    api_log = (logs / "api.log").read_text(errors="replace")
    assert "Uvicorn running" in api_log or "Application startup complete" in api_log, "this is the API's log"
    secrets = {
        "password": password,
        "bearer token": jwt,
        "API token": api_token,
        "unknown token": bogus,
        "JWT secret": stack.settings.secret_key,
        "S3 secret key": stack.settings.s3_secret_key,
    }
    for what, value in secrets.items():
        assert value not in api_log, f"the {what} appears in {logs / 'api.log'}"
    for path in logs.glob("*.log"):  # the workers and servers never see a user's credentials either
        text = path.read_text(errors="replace")
        for what in ("password", "bearer token", "API token"):
            assert secrets[what] not in text, f"the {what} appears in {path}"
