"""A Unix-socket proxy in front of the Docker engine that reads the engine's inspect of each container just before
passing on its start request.

A container that cannot start (a GPU request on a host without the NVIDIA runtime) and has auto_remove set is
removed by the engine at once, so its configuration can only be read between create and start: a client pointed
at this socket (DOCKER_HOST=unix://PATH) gets the engine's own answers, byte for byte, and the proxy asks the
engine for `GET /containers/<id>/json` before each `POST /containers/<id>/start` goes through.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from pathlib import Path
from typing import Any

import docker

ENGINE_SOCKET = "/var/run/docker.sock"
START = re.compile(rb"^POST /(?:v[\d.]+/)?containers/([^/?]+)/start")
CONTENT_LENGTH = re.compile(rb"^content-length:\s*(\d+)", re.IGNORECASE | re.MULTILINE)
CHUNKED = re.compile(rb"^transfer-encoding:\s*chunked", re.IGNORECASE | re.MULTILINE)
MAX_HEADER = 1 << 16


class InspectBeforeStart:
    def __init__(self, path: Path, engine_socket: str = ENGINE_SOCKET) -> None:
        self.path = path
        self.engine_socket = engine_socket
        self.inspected: list[dict[str, Any]] = []
        self._engine = docker.DockerClient(base_url=f"unix://{engine_socket}", timeout=30)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(16)
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._accepting.join(timeout=5)
        self._engine.close()
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self.engine_socket)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        try:
            self._requests(client, upstream)
        finally:
            for end in (client, upstream):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward requests one by one (the Docker SDK never pipelines), inspecting before each start."""
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = client.recv(65536)
                if not data or len(buffer) > MAX_HEADER:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            started = START.match(head)
            if started:
                with contextlib.suppress(docker.errors.NotFound):
                    self.inspected.append(self._engine.api.inspect_container(started.group(1).decode()))
            upstream.sendall(head + b"\r\n\r\n")
            if CHUNKED.search(head):  # not a request the worker makes; stop parsing and pass the rest as is
                upstream.sendall(buffer)
                _pipe(client, upstream)
                return
            length = int(match.group(1)) if (match := CONTENT_LENGTH.search(head)) else 0
            while len(buffer) < length:
                data = client.recv(65536)
                if not data:
                    return
                buffer += data
            upstream.sendall(buffer[:length])
            buffer = buffer[length:]


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
