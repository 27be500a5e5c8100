"""What the benchmarks share: an embedded stack's settings on free ports, and a signed-in client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from commons.settings import Settings
from launcher.client import CommonsClient
from tests.conftest import free_port_block

PASSWORD = "benchmark password"  # noqa: S105 - a throwaway account on a throwaway stack


def bench_settings(root: Path, **overrides: Any) -> Settings:
    """Settings of an embedded stack under `root`/stack, on free ports, with `overrides` on top."""
    return Settings(
        data_dir=root / "stack",
        s3_port=free_port_block(),
        prefect_port=free_port_block(1),
        api_port=free_port_block(1),
        **overrides,
    )


def signed_in(settings: Settings, username: str, *, timeout: float = 600) -> tuple[CommonsClient, str]:
    """A new account on the stack, signed in: the client and its token."""
    client = CommonsClient(settings.api_url, timeout=timeout)
    client.sign_up(username, PASSWORD)
    return client, client.sign_in(username, PASSWORD)
