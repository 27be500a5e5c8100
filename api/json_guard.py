"""JSON request bodies held to `commons.strict_json` before FastAPI reads them.

FastAPI parses a JSON body with Python's `json`, which takes `NaN` and `Infinity` (pydantic then stores them,
and they come back as null) and answers a 5,000-digit integer or a 5,000-deep nesting with a bare 400. This
ASGI middleware reads a JSON body once, refuses those with 422 naming the field (`params.lr`) and hands
every other body on unchanged; a body that is not JSON at all is left to FastAPI's own error. One place covers
every route, including free-form `params` objects that no pydantic float field sees. The body's size is
already bounded (`api.body_limits`, outside this middleware), so reading it here whole costs little.
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from commons import strict_json


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return False


class JsonBodyGuard:
    """Refuse JSON bodies nested too deep or carrying NaN, Infinity or huge integers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            strict_json.loads(body)
        except strict_json.JsonRefused as refused:
            field = refused.path or "body"
            detail = f"{field}: {refused.problem}"
            await JSONResponse({"detail": detail, "field": field}, status_code=422)(scope, receive, send)
            return
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass  # not JSON: FastAPI answers it with its own error
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the body already read, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def install_json_guard(app: FastAPI) -> None:
    app.add_middleware(JsonBodyGuard)
