"""What the pure ASGI middlewares share (they leave streams such as server-sent events unbuffered)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """A pure ASGI middleware that acts on HTTP requests alone: other scopes (lifespan) go straight to the app,
    an HTTP request to `handle`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request, calling `self.app` as the middleware sees fit."""
        raise NotImplementedError
