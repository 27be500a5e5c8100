"""Request bodies: bounded in size, received in full at a minimum rate, before the request takes an in-flight slot.

Why: the in-flight bound (`api/concurrency.py`) admits 24 requests at once. A request used to take its slot
before its body was read, so 24 clients sending a body one byte every two seconds held every slot and the API
answered nothing else; and a body was read in full (a 300 MB one to a 64 MB route spooled to disk) before a
route said 413.

Design, in one pure ASGI middleware that sits outside the in-flight bound:

- **Size.** Each route has a limit: the upload routes their own (a photo: `max_upload_bytes`; a version's
  files: `max_weights_bytes`; a zip import or a batch of photos: `max_zip_bytes`; a Label Studio predict call,
  its photo as a data URL: 4/3 of `max_upload_bytes`; each plus 1 MiB of multipart framing), every other
  route `max_body_bytes` (1 MiB: JSON and forms). A `Content-Length` over it is answered 413 before a byte of
  the body is read; a chunked body is cut with 413 as soon as it passes it.
- **Credentials first for uploads.** The upload routes need a signed-in caller; a request to one without an
  `Authorization` header is answered 401 before its body is read, so an anonymous client cannot make the API
  receive and spool hundreds of megabytes. (A wrong token is still found out by the route, after the body.)
- **Received before admission.** The whole body is received here, in memory up to `body_spool_bytes` (1 MiB)
  and in a temporary file past it, and only then is the request passed on (to the in-flight bound and the
  app), which reads it back from there. A slow client therefore holds a socket, a coroutine and at most its
  spool, never a slot; the app never waits on a network read. The spool is closed (its space freed) when the
  request ends, whatever happens.
- **Space.** All the bodies one process holds at once (received or being served) stay under
  `max_spooled_bytes` (8 GiB): a body that would pass it is answered 429 with `Retry-After`, so many large
  uploads at once cannot fill the disk. A declared length is reserved whole before the body is read.
- **Time.** A body must arrive within `body_timeout_seconds` (10 s) plus one second per
  `body_min_bytes_per_second` (16 KiB) received: a minimum average rate after a grace period, so a 4 GiB
  upload on a slow line is fine and one byte every two seconds is not. A slower body is answered 408.

Every refusal is the app's error format (`{"detail": …}`) with `Connection: close`: the server then closes
the connection instead of reading (and discarding) the rest of a body it refused.

The multipart parser keeps each uploaded file in memory up to its spool size before moving it to a temporary
file; `install_body_limits` lowers that from Starlette's 1 MiB to 64 KiB, so the memory a many-file upload
takes while it is parsed stays small whatever the number of files (Starlette allows 1000 per request).
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from dataclasses import dataclass
from typing import IO

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from commons.settings import Settings

MiB = 1024 * 1024
MULTIPART_SLACK = MiB  # boundaries, part headers and small form fields around the files themselves
MULTIPART_FILE_SPOOL = 64 * 1024  # bytes of one uploaded file the multipart parser keeps in memory
REPLAY_CHUNK = 256 * 1024
SIGN_IN_FIRST = "sign in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'"


@dataclass(frozen=True)
class UploadRoute:
    """A route whose body carries files, with the setting that bounds them and what to tell a sender."""

    method: str
    pattern: re.Pattern[str]
    setting: str
    hint: str
    base64: bool = False  # the files come as data URLs in JSON: 4/3 of the setting's bytes
    schemes: tuple[str, ...] = ("bearer ",)  # the Authorization schemes that may send a body


UPLOAD_ROUTES = (
    UploadRoute("POST", re.compile(r"/api/v1/uploads/?"), "max_upload_bytes", "send a smaller photo"),
    UploadRoute(
        "POST",
        re.compile(r"/api/v1/resources/.+/versions/?"),
        "max_weights_bytes",
        "a version's files together may not be larger",
    ),
    UploadRoute(
        "POST", re.compile(r"/api/v1/datasets/.+/items/?"), "max_zip_bytes", "send the photos in several requests"
    ),
    UploadRoute("POST", re.compile(r"/api/v1/datasets/.+/import/?"), "max_zip_bytes", "split the zip"),
    UploadRoute("POST", re.compile(r"/api/v1/datasets/coco/?"), "max_zip_bytes", "split the zip"),
    UploadRoute("POST", re.compile(r"/api/v1/datasets/label-studio/?"), "max_zip_bytes", "split the export"),
    UploadRoute(  # Label Studio sends a task's photo as a data URL, with basic auth (user name, API token)
        "POST",
        re.compile(r"/api/v1/label-studio/[^/]+/[^/]+/[^/]+/predict/?"),
        "max_upload_bytes",
        "send fewer tasks per request, or smaller photos",
        base64=True,
        schemes=("bearer ", "basic "),
    ),
)


@dataclass(frozen=True)
class BodyLimit:
    limit: int
    upload: bool
    hint: str
    schemes: tuple[str, ...] = ("bearer ",)


def limit_for(settings: Settings, method: str, path: str) -> BodyLimit:
    """The most bytes a body of `method path` may have: an upload route's own limit, or `max_body_bytes`."""
    for route in UPLOAD_ROUTES:
        if method == route.method and route.pattern.fullmatch(path):
            size = int(getattr(settings, route.setting))
            limit = (-(-size * 4 // 3) if route.base64 else size) + MULTIPART_SLACK
            return BodyLimit(limit=limit, upload=True, hint=route.hint, schemes=route.schemes)
    return BodyLimit(limit=settings.max_body_bytes, upload=False, hint="send a smaller body")


def _size(count: int) -> str:
    return f"{count / MiB:.1f} MiB ({count} bytes)" if count >= MiB else f"{count} bytes"


class Refused(Exception):
    """The body is refused: answer `status` with `detail` (and `headers`) and close the connection."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class _Hold:
    """The bytes one request's body holds in the process's count (see `BodyLimits._reserve`)."""

    def __init__(self) -> None:
        self.count = 0


class Disconnected(Exception):
    """The client went away while sending its body: there is nobody to answer."""


class BodyLimits:
    """Pure ASGI middleware: refuse oversized, anonymous-upload and too-slow bodies; receive the rest in full
    (spooled) before passing the request on. See the module docstring for why."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.held = 0  # bytes of the bodies this process holds now (one event loop: no lock needed)

    def _reserve(self, hold: _Hold, count: int) -> None:
        """Count `count` more bytes for the request of `hold`, or refuse (429) past `max_spooled_bytes`."""
        if self.held + count > self.settings.max_spooled_bytes:
            raise Refused(
                429,  # a capacity limit that clears itself, answered like a rate limit: no input gets a 5xx
                f"the server is receiving too many large request bodies at once ({_size(self.held)} held, "
                f"COMMONS_MAX_SPOOLED_BYTES={self.settings.max_spooled_bytes}); send it again in a few seconds",
                {"Retry-After": "5"},
            )
        self.held += count
        hold.count += count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length_header = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if length_header is None and not chunked:  # HTTP/1.1: no body at all
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        rule = limit_for(self.settings, method, path)
        spool: IO[bytes] | None = None
        hold = _Hold()
        try:
            if rule.upload and not headers.get("authorization", "").lower().startswith(rule.schemes):
                raise Refused(
                    401,
                    f"{SIGN_IN_FIRST}; uploads are received from signed-in callers only",
                    {"WWW-Authenticate": "Bearer"},
                )
            expected = self._declared_length(length_header, rule, method, path)
            if expected == 0:
                await self.app(scope, receive, send)
                return
            if expected is not None:
                self._reserve(hold, expected)  # a declared length: all of it, before a byte is read
            spool = tempfile.SpooledTemporaryFile(max_size=self.settings.body_spool_bytes)  # noqa: SIM115
            size = await self._receive_body(receive, spool, rule, expected, method, path, hold)
        except Refused as refused:
            await _answer(send, refused)
            if spool is not None:
                spool.close()
            self.held -= hold.count
            return
        except Disconnected:
            if spool is not None:
                spool.close()
            self.held -= hold.count
            return
        try:
            spool.seek(0)
            await self.app(scope, _replay(spool, size, receive), send)
        finally:
            spool.close()
            self.held -= hold.count

    def _declared_length(self, header: str | None, rule: BodyLimit, method: str, path: str) -> int | None:
        if header is None:
            return None
        try:
            length = int(header)
        except ValueError:
            raise Refused(400, f"Content-Length {header!r} is not a number of bytes") from None
        if length > rule.limit:
            raise Refused(
                413,
                f"the request body is {_size(length)}, over the limit of {_size(rule.limit)} for {method} {path}; "
                f"{rule.hint}",
            )
        return length

    async def _receive_body(
        self,
        receive: Receive,
        spool: IO[bytes],
        rule: BodyLimit,
        expected: int | None,
        method: str,
        path: str,
        hold: _Hold,
    ) -> int:
        """Receive the whole body into `spool`, enforcing the size limit and the minimum rate; its size."""
        loop = asyncio.get_running_loop()
        grace = self.settings.body_timeout_seconds
        rate = self.settings.body_min_bytes_per_second
        started = loop.time()
        received = 0
        while True:
            remaining = started + grace + received / rate - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    message = await receive()
            except TimeoutError:
                total = f" of {expected}" if expected is not None else ""
                raise Refused(
                    408,
                    f"the request body arrived too slowly: {received}{total} bytes in "
                    f"{loop.time() - started:.0f} s; a body must arrive within {grace:g} s plus one second per "
                    f"{rate} bytes. Send it again on a faster connection, without pauses",
                ) from None
            if message["type"] == "http.disconnect":
                raise Disconnected
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > rule.limit:
                raise Refused(
                    413,
                    f"the request body passed the limit of {_size(rule.limit)} for {method} {path}; {rule.hint}",
                )
            if chunk:
                if expected is None:  # chunked: counted as it comes
                    self._reserve(hold, len(chunk))
                spool.write(chunk)  # in memory, or a page-cache write past body_spool_bytes
            if not message.get("more_body", False):
                return received


def _replay(spool: IO[bytes], size: int, receive: Receive) -> Receive:
    """A `receive` that gives the app the spooled body, then the client's own messages (its disconnect)."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = spool.read(REPLAY_CHUNK)
        done = not chunk or spool.tell() >= size
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay


async def _answer(send: Send, refused: Refused) -> None:
    body = json.dumps({"detail": refused.detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the server closes instead of reading the rest of the body
        *((name.lower().encode(), value.encode()) for name, value in refused.headers.items()),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def install_body_limits(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (call it after the in-flight bound is added, so that it runs before it) and keep
    uploaded files' memory small while multipart bodies are parsed."""
    MultiPartParser.spool_max_size = MULTIPART_FILE_SPOOL
    app.add_middleware(BodyLimits, settings=settings)
