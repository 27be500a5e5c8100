"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 (port chosen by the OS) that records every request
and answers from a script of status codes (then 200), stopped when the block ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    port: int
    answers: list[int] = field(default_factory=list)  # status codes to answer, in order; then 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def next_answer(self) -> int:
        with self.lock:
            return self.answers.pop(0) if self.answers else 200

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def wait_for(self, check: Callable[[list[Received]], bool], *, timeout: float = 60) -> list[Received]:
        """The requests received so far once `check` holds of them; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                seen = list(self.received)
            if check(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"the receiver did not get what the test waited for; it got {self.received!r}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode()
            receiver.record(
                Received(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body)
            )
            code = receiver.next_answer()
            self.send_response(code)
            if 300 <= code < 400:
                self.send_header("Location", f"http://127.0.0.1:{receiver.port}/redirected")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler


@contextmanager
def receiving(answers: list[int] | None = None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(port=server.server_address[1], answers=list(answers or []))
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
