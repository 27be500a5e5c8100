"""A bound on the requests the API works on at once; the others wait their turn before touching anything.

Why: FastAPI runs a request's sync dependencies, its endpoint and its dependencies' teardown (where the
request's database session commits and gives its connection back) as separate turns of one thread pool. With
hundreds of requests in flight, requests that finished their endpoint hold their connections while they wait
for a thread to run the teardown, while the threads are held by requests waiting for a connection: every
request then waits for the pool's 30 s timeout. Admitting at most `limit` requests (fewer than the threads
and the connections) makes that impossible; the rest queue here, holding nothing but a socket.

Exempt: event streams (they live as long as their task and read the database in short turns of their own),
static files and the health check (a probe must be answered while the API is busy).

A request reaches this bound only once its body has been received in full (`api/body_limits.py`, outside it):
a client that sends its body slowly waits there, holding no slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


def is_exempt(path: str) -> bool:
    return path.endswith("/events") or path.startswith("/static/") or path == "/api/v1/health"


class InFlightLimit:
    """Pure ASGI middleware: at most `limit` HTTP requests inside the app at once, first come first served."""

    def __init__(self, app: ASGIApp, *, limit: int, exempt: Callable[[str], bool] = is_exempt) -> None:
        if limit < 1:
            raise ValueError(f"the in-flight limit must be at least 1 (got {limit})")
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self._slots = asyncio.Semaphore(limit)  # FIFO: waiters are woken in arrival order

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        async with self._slots:
            await self.app(scope, receive, send)
