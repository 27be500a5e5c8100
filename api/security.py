"""Rate limits on sign-in, sign-up, token creation, password changes, grants and access requests; CORS;
security headers on every response.

`install_security(app, settings)` wires it all in; the rate-limit dependencies are declared on the
routes of `api/routes/users.py` and `api/routes/grants.py` (and the dataset grant route). Counters live in a
`limits` storage (memory per process by default; a shared one such as redis:// when several API replicas serve
the same users). Per-address limits count against `api.deps.client_address`: the peer, or for a peer in
COMMONS_TRUSTED_PROXIES the address that proxy reports. Grants and access requests are limited per user: each
names a user or group, and an unlimited run of them would tell which names exist.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import HttpMiddleware
from api.deps import client_address, get_current_user, get_session_user, parse_trusted_proxies
from commons.errors import CommonsError
from commons.settings import Settings
from registry.models import User

HSTS = "max-age=31536000; includeSubDomains"
BASE_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # page URLs carry ids; presigned object-store fetches need no referrer
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
# FastAPI's /docs and /redoc load Swagger UI / ReDoc from a CDN and start them with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class RateLimited(CommonsError):
    """Too many attempts of one kind from one client; `retry_after` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimits:
    """Named moving-window limits (`limits` library), each from a setting such as '10/minute;100/hour'."""

    def __init__(self, settings: Settings) -> None:
        self.items: dict[str, list[RateLimitItem]] = {}
        for name, field in (("sign-in", "sign_in_rate_limit"), ("sign-up", "sign_up_rate_limit")):
            self.items[name] = _parse(getattr(settings, field), field)
        self.items["token"] = _parse(settings.token_rate_limit, "token_rate_limit")
        self.items["grant"] = _parse(settings.grant_rate_limit, "grant_rate_limit")
        self.items["access-request"] = _parse(settings.access_request_rate_limit, "access_request_rate_limit")
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))

    def hit(self, name: str, key: str, *, what: str) -> None:
        """Count one attempt, or raise RateLimited (counting nothing) when any window is full."""
        for item in self.items[name]:
            if not self.limiter.test(item, name, key):
                reset = self.limiter.get_window_stats(item, name, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                at = datetime.fromtimestamp(time.time() + wait, tz=UTC).strftime("%H:%M:%S UTC")
                raise RateLimited(
                    f"too many {what}: at most {item.amount} per {_window(item)}; try again in {wait} s (at {at})",
                    retry_after=wait,
                )
        for item in self.items[name]:
            self.limiter.hit(item, name, key)


def _parse(value: str, field: str) -> list[RateLimitItem]:
    try:
        items = parse_many(value)
    except ValueError as error:
        raise ValueError(
            f"COMMONS_{field.upper()}={value!r} is not a rate limit; write e.g. '10/minute' or '5/minute;50/day'"
        ) from error
    if not items:
        raise ValueError(f"COMMONS_{field.upper()} is empty; write e.g. '10/minute'")
    return items


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


def _client_address(request: Request) -> str:
    """The client address per-address limits count against (X-Forwarded-For only from a trusted proxy)."""
    return client_address(request) or "unknown"


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def limit_sign_in(request: Request) -> None:
    _limits(request).hit("sign-in", _client_address(request), what="sign-in attempts from your address")


def limit_sign_up(request: Request) -> None:
    _limits(request).hit("sign-up", _client_address(request), what="sign-ups from your address")


def limit_token_creation(request: Request, user: Annotated[User, Depends(get_session_user)]) -> None:
    _limits(request).hit("token", user.id, what="API tokens created")


def limit_password_change(request: Request, user: Annotated[User, Depends(get_session_user)]) -> None:
    """Guesses of the current password through the change form count like sign-in attempts, per account."""
    _limits(request).hit("sign-in", f"password:{user.id}", what="password change attempts")


def limit_grant_creation(request: Request, user: Annotated[User, Depends(get_current_user)]) -> None:
    _limits(request).hit("grant", user.id, what="grants created (each names a user or group)")


def limit_access_requests(request: Request, user: Annotated[User, Depends(get_current_user)]) -> None:
    _limits(request).hit("access-request", user.id, what="access requests made")


def cors_origins(settings: Settings) -> list[str]:
    origins = [origin.strip().rstrip("/") for origin in settings.cors_origins.split(",") if origin.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path):
            raise ValueError(
                f"COMMONS_CORS_ORIGINS has {origin!r}; list origins as scheme://host[:port], comma-separated"
            )
    return origins


def object_store_origin(settings: Settings) -> str:
    """The origin of presigned URLs, which the pages load images and JSON from."""
    return f"{'https' if settings.s3_secure else 'http'}://{settings.resolved_s3_endpoint}"


# Pages that run ONNX Runtime Web (WebAssembly, served from /static/vendor/ort/): their CSP adds 'wasm-unsafe-eval'
# to script-src, which lets the page compile WebAssembly and nothing else (no eval of JavaScript, no inline script).
# They are also cross-origin isolated (COOP same-origin, as every page, and COEP credentialless: cross-origin
# images and fetches go without cookies, which the presigned object-store URLs never need), so that ONNX Runtime
# may decode on several threads (SharedArrayBuffer).
# ONNX Runtime's threads are module workers started from its own script, which must carry the same policy.
WASM_PAGES = frozenset({"/segment"})
WASM_WORKERS = "/static/vendor/ort/"
WASM_HEADERS: dict[str, str] = {"Cross-Origin-Embedder-Policy": "credentialless"}


def page_csp(settings: Settings, *, wasm: bool = False) -> str:
    store = object_store_origin(settings)
    scripts = "'self' 'wasm-unsafe-eval'" if wasm else "'self'"
    return (
        f"default-src 'self'; script-src {scripts}; connect-src 'self' {store}; img-src 'self' data: blob: {store}; "
        # pages set style attributes from scripts (el(..., {style})); no inline <style> or <script> is served
        "style-src 'self' 'unsafe-inline'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders(HttpMiddleware):
    """The security headers on every HTTP answer (a pure ASGI middleware: streams pass through unbuffered)."""

    def __init__(self, app: ASGIApp, *, csp: str, wasm_csp: str, docs_paths: set[str], hsts_always: bool) -> None:
        super().__init__(app)
        self.csp, self.wasm_csp, self.docs_paths, self.hsts_always = csp, wasm_csp, docs_paths, hsts_always

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        wasm = path in WASM_PAGES or path.startswith(WASM_WORKERS)
        csp = DOCS_CSP if path in self.docs_paths else self.wasm_csp if wasm else self.csp
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = {**BASE_HEADERS, **(WASM_HEADERS if wasm else {}), "Content-Security-Policy": csp}
                if https or self.hsts_always:
                    extra["Strict-Transport-Security"] = HSTS
                headers += [
                    (name.lower().encode(), value.encode())
                    for name, value in extra.items()
                    if name.lower().encode() not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Rate limits (used by the users routes), CORS for the configured origins, and security headers."""
    app.state.rate_limits = RateLimits(settings)
    app.state.trusted_proxies = parse_trusted_proxies(settings.trusted_proxies)
    origins = cors_origins(settings)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Location", "Retry-After"],
            allow_credentials=False,  # the API takes bearer tokens, never cookies
            max_age=600,
        )
    docs = {path for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if path}
    app.add_middleware(
        SecurityHeaders,
        csp=page_csp(settings),
        wasm_csp=page_csp(settings, wasm=True),
        docs_paths=docs,
        hsts_always=settings.hsts,
    )
