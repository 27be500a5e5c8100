#!/usr/bin/env python3
"""Container health checks (installed in the images as `commons-healthcheck`); exit 0 healthy, 1 not.

  commons-healthcheck http URL     GET URL answers 2xx within the timeout
  commons-healthcheck task-worker  the Prefect server (PREFECT_API_URL) lists a task worker of this
                                   container: Prefect names task workers `<hostname>-<pid>`

Standard library only, so it runs in any of the project's images before anything else is imported.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 5.0


def http_ok(url: str, *, timeout: float = TIMEOUT_SECONDS) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - URL from the image's own config
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def task_worker_subscribed(api_url: str, hostname: str, *, timeout: float = TIMEOUT_SECONDS) -> bool:
    request = urllib.request.Request(  # noqa: S310 - URL from PREFECT_API_URL
        f"{api_url.rstrip('/')}/task_workers/filter",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            workers = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return any(str(worker.get("identifier", "")).startswith(f"{hostname}-") for worker in workers)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "http":
        return 0 if http_ok(argv[1]) else 1
    if argv == ["task-worker"]:
        api_url = os.environ.get("PREFECT_API_URL")
        if not api_url:
            print("PREFECT_API_URL is not set", file=sys.stderr)
            return 1
        return 0 if task_worker_subscribed(api_url, socket.gethostname()) else 1
    print("usage: commons-healthcheck http URL | commons-healthcheck task-worker", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
