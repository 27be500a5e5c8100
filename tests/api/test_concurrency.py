"""The in-flight bound: at most `limit` requests inside the app, the rest wait in arrival order; event streams,
static files and the health check pass by; and on the real API, hundreds of requests at once all succeed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from api.concurrency import InFlightLimit, is_exempt
from tests.conftest import RunningStack


class SlowApp:
    """An ASGI app that records how many requests are inside it at once and in which order they entered."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.inside = 0
        self.most_inside = 0
        self.entered: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.entered.append(scope["query_string"].decode())
        await asyncio.sleep(self.seconds)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def call(app: InFlightLimit, path: str, tag: str) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Message) -> None:
        return None

    await app({"type": "http", "path": path, "query_string": tag.encode()}, receive, send)


def test_at_most_limit_requests_inside_and_the_rest_in_arrival_order() -> None:
    async def scenario() -> SlowApp:
        inner = SlowApp(seconds=0.05)
        limited = InFlightLimit(inner, limit=3)
        calls = []
        for index in range(12):
            calls.append(asyncio.create_task(call(limited, "/api/v1/resources", str(index))))
            await asyncio.sleep(0)  # arrive one after another
        await asyncio.gather(*calls)
        return inner

    inner = asyncio.run(scenario())
    assert inner.most_inside == 3
    assert inner.entered == [str(index) for index in range(12)], "first come, first served"
    assert inner.inside == 0


def test_event_streams_static_files_and_health_are_not_held_back() -> None:
    async def scenario() -> SlowApp:
        inner = SlowApp(seconds=0.05)
        limited = InFlightLimit(inner, limit=1)
        paths = ["/api/v1/tasks/abc/events", "/static/app.css", "/api/v1/health"] * 2
        await asyncio.gather(*(call(limited, path, path) for path in paths))
        return inner

    assert asyncio.run(scenario()).most_inside == 6
    assert not is_exempt("/api/v1/tasks/abc") and not is_exempt("/api/v1/resources")


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InFlightLimit(SlowApp(0), limit=0)


# Without the bound, this many requests at once exhausted the SQLite pool (60): every request then waited the
# pool's 30 s timeout and many answered 500. The registry backend does not matter for the queueing.
@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_hundreds_of_requests_at_once_all_succeed(stack: RunningStack) -> None:
    user = stack.new_user()
    headers = {"Authorization": user.http.headers["Authorization"]}
    base = f"{stack.settings.api_url}/api/v1"

    async def one(path: str) -> int:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            return (await client.get(path)).status_code

    async def burst() -> list[int]:
        return await asyncio.gather(*(one("/resources" if index % 2 else "/tasks") for index in range(240)))

    started = asyncio.run(asyncio.wait_for(burst(), timeout=120))
    assert started.count(200) == 240, sorted(set(started))
