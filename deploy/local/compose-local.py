#!/usr/bin/env python3
"""Run Docker Compose on deploy/compose.yaml + deploy/compose.local.yaml, on a host without a GPU runtime.

    deploy/local/compose-local.py [--env-file FILE] [-p PROJECT] COMMAND [ARGS...]
    e.g. deploy/local/compose-local.py --env-file deploy/.env -p commons up -d --no-build

Compose v1 (Debian's docker-compose 1.29.2) merges an override's lists into the base file's and has no `!reset`,
so compose.local.yaml alone cannot take away two things of compose.yaml. This merges both files with
`docker-compose config`, then in the merged file:
  - removes every `deploy.resources.reservations.devices` (the NVIDIA GPU requests: without the NVIDIA runtime the
    engine refuses to create those containers);
  - keeps only the published ports bound to 127.0.0.1 (compose.local.yaml publishes what it needs there).
and runs COMMAND with it. The merged file holds the interpolated secrets: it is written mode 0600 in a temporary
folder and removed afterwards. Standard library and PyYAML (a dependency of Debian's docker-compose) only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1]
FILES = (DEPLOY / "compose.yaml", DEPLOY / "compose.local.yaml")
LOOPBACK = "127.0.0.1"


def compose_command() -> list[str]:
    found = shutil.which("docker-compose")
    if found is None:
        raise SystemExit("docker-compose is missing: apt-get install docker-compose (Debian's Compose 1.29.2)")
    return [found]


def on_loopback(port: Any) -> bool:
    """Whether a published port of `docker-compose config`'s output (short string or long mapping) is bound to
    127.0.0.1 only."""
    if isinstance(port, dict):
        return port.get("external_ip", port.get("host_ip")) == LOOPBACK
    parts = str(port).split(":")
    return len(parts) == 3 and parts[0] == LOOPBACK


def strip_for_this_host(config: dict[str, Any]) -> dict[str, Any]:
    for service in config.get("services", {}).values():
        reservations = service.get("deploy", {}).get("resources", {}).get("reservations", {})
        reservations.pop("devices", None)
        if "ports" in service:
            service["ports"] = [port for port in service["ports"] if on_loopback(port)]
    return config


def render(base: list[str]) -> str:
    merged = subprocess.run([*base, "config"], capture_output=True, text=True, check=False)
    if merged.returncode != 0:
        raise SystemExit(f"docker-compose config failed:\n{merged.stderr.strip()}")
    return yaml.safe_dump(strip_for_this_host(yaml.safe_load(merged.stdout)), sort_keys=False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=DEPLOY / ".env")
    parser.add_argument("-p", "--project-name", default="commons")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("name a docker-compose command, e.g. up -d")
    if not args.env_file.is_file():
        parser.error(f"{args.env_file} does not exist: copy deploy/.env.example there and set its secrets")
    head = [*compose_command(), "--project-name", args.project_name, "--env-file", str(args.env_file.resolve())]
    rendered = render([*head, *(arg for path in FILES for arg in ("--file", str(path)))])
    with tempfile.TemporaryDirectory(prefix="commons-compose-") as folder:
        path = Path(folder) / "compose.rendered.yaml"
        path.touch(mode=0o600)
        path.write_text(rendered)
        return subprocess.run([*head, "--file", str(path), *args.command], check=False, env=os.environ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
