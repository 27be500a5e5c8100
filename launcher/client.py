"""A small Python client for the REST API (used by the demo, the benchmark and the tests)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

TERMINAL = ("succeeded", "failed", "cancelled")


class ApiError(Exception):
    """An error answer of the API: `status_code`, `detail` (the body's `detail`) and `message`, the API's own
    words for a person (what was wrong, what to do), for a command line or a script to show as they are."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            body = response.json()
            detail = body.get("detail") if isinstance(body, dict) else body
        except ValueError:
            detail = response.text
        super().__init__(f"{response.request.method} {response.request.url.path} → {response.status_code}: {detail}")
        self.status_code = response.status_code
        self.detail = detail
        self.message = plain_message(response.status_code, detail)


def plain_message(status_code: int, detail: object) -> str:
    """The API's message in plain words; a body that is not the API's JSON (a proxy's page) is named by its status."""
    if isinstance(detail, str) and detail.strip() and not detail.lstrip().startswith("<"):
        return detail.strip()[:2000]
    if isinstance(detail, list) and detail and all(isinstance(item, dict) for item in detail):
        return "; ".join(str(item.get("msg", item)) for item in detail)[:2000]
    return f"the server answered HTTP {status_code} without an explanation (is this the commons' address?)"


class CommonsClient:
    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 120) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1", timeout=timeout)
        self.username = ""  # empty until sign_in
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json() if response.content else None

    def sign_up(self, username: str, password: str) -> dict[str, Any]:
        return self._check(self.http.post("/users", json={"username": username, "password": password}))

    def sign_in(self, username: str, password: str) -> str:
        body = self._check(self.http.post("/auth/token", data={"username": username, "password": password}))
        token = str(body["access_token"])
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.username = username
        return token

    def create_resource(self, **spec: Any) -> dict[str, Any]:
        return self._check(self.http.post("/resources", json=spec))

    def upload_version(
        self,
        name: str,
        *,
        files: list[Path],
        config: dict[str, Any],
        sha256: dict[str, str] | None = None,
        parent: int | None = None,
        reported_metrics: dict[str, Any] | None = None,
        execution: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, str] = {"config": json.dumps(config)}
        if execution:
            data["execution"] = json.dumps(execution)
        if sha256:
            data["sha256"] = json.dumps(sha256)
        if parent is not None:
            data["parent"] = str(parent)
        if reported_metrics:
            data["reported_metrics"] = json.dumps(reported_metrics)
        handles = [path.open("rb") for path in files]
        try:
            parts = [("files", (path.name, handle)) for path, handle in zip(files, handles, strict=True)]
            return self._check(self.http.post(f"/resources/{name}/versions", data=data, files=parts))
        finally:
            for handle in handles:
                handle.close()

    def grant(self, name: str, username: str, permission: str) -> dict[str, Any]:
        return self._check(
            self.http.post(f"/resources/{name}/grants", json={"username": username, "permission": permission})
        )

    def upload(self, name: str, data: bytes, content_type: str = "image/png") -> dict[str, Any]:
        return self._check(self.http.post("/uploads", files={"file": (name, data, content_type)}))

    def submit(
        self,
        *,
        resource: str,
        version: int | str,
        params: dict[str, Any] | None = None,
        inputs: list[str] | None = None,
        mode: str = "infer",
        dataset: str | None = None,
        idempotency_key: str | None = None,
        lane: str = "auto",
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body: dict[str, Any] = {
            "resource": resource,
            "version": version,
            "mode": mode,
            "params": params or {},
            "lane": lane,
        }
        if inputs is not None:
            body["inputs"] = inputs
        if dataset is not None:
            body["dataset"] = dataset
        return self._check(self.http.post("/tasks", json=body, headers=headers))

    def reproduce(self, task_id: str) -> dict[str, Any]:
        return self._check(self.http.post(f"/tasks/{task_id}/reproduce"))

    def metrics(self, task_id: str) -> list[dict[str, Any]]:
        return list(self._check(self.http.get(f"/tasks/{task_id}/metrics")))

    def task(self, task_id: str) -> dict[str, Any]:
        return self._check(self.http.get(f"/tasks/{task_id}"))

    def events(self, task_id: str) -> Iterator[dict[str, Any]]:
        """Each `task` event of the stream (the task as GET /tasks/{id} shows it), until the task ends."""
        for name, data in self.stream(task_id):
            if name == "task":
                yield data

    def stream(self, task_id: str, *, last_event_id: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every event of the task's stream as (event name, data): `task` and, for training, `epoch`."""
        for name, _event_id, data in self._events(task_id, last_event_id=last_event_id):
            yield name, data

    def follow(self, task_id: str, *, reconnect_for: float = 120) -> Iterator[tuple[str, dict[str, Any]]]:
        """`stream`, reconnecting with Last-Event-ID when the connection drops (e.g. the API restarts), until
        the task ends; gives up after `reconnect_for` seconds without a connection."""
        last_event_id: str | None = None
        down_since: float | None = None
        while True:
            try:
                for name, event_id, data in self._events(task_id, last_event_id=last_event_id):
                    down_since = None
                    if event_id is not None:
                        last_event_id = event_id
                    yield name, data
                    if name == "task" and data["status"] in TERMINAL:
                        return
            except (httpx.TransportError, httpx.RemoteProtocolError):
                pass
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since > reconnect_for:
                raise TimeoutError(f"the event stream of task {task_id} stayed down for {reconnect_for:.0f} s")
            time.sleep(0.5)

    def _events(self, task_id: str, *, last_event_id: str | None) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
        with self.http.stream("GET", f"/tasks/{task_id}/events", timeout=None, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(response)
            name, event_id, data = "message", None, None
            for line in response.iter_lines():  # an event's fields come in any order; a blank line ends it
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif not line:
                    if data is not None:
                        yield name, event_id, json.loads(data)
                    name, event_id, data = "message", None, None

    def wait(self, task_id: str, *, timeout: float = 600, poll: float = 0.2) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.task(task_id)
            if task["status"] in TERMINAL:
                return task
            time.sleep(poll)
        raise TimeoutError(f"task {task_id} did not end within {timeout} s")
