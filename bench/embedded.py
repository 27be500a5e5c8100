"""What the benchmarks share: an embedded stack on free ports, started and stopped as `commons up` does; a
signed-in client; a SAM with random weights published on it; photos as PNG; the command line; percentiles; a
scratch PostgreSQL database."""

from __future__ import annotations

import argparse
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from commons.settings import Settings
from launcher.client import CommonsClient
from launcher.stack import Stack
from resources.sam.config import parse_sam_config
from resources.sam.model import save_random_weights
from tests.conftest import free_port_block

PASSWORD = "benchmark password"  # noqa: S105 - a throwaway account on a throwaway stack
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def bench_settings(root: Path, **overrides: Any) -> Settings:
    """Settings of an embedded stack under `root`/stack, on free ports, with `overrides` on top."""
    return Settings(
        data_dir=root / "stack",
        s3_port=free_port_block(),
        prefect_port=free_port_block(1),
        api_port=free_port_block(1),
        **overrides,
    )


@contextmanager
def running(settings: Settings) -> Iterator[Stack]:
    """The embedded stack of `settings`, started by the code of `commons up` (its progress printed), stopped
    when the block ends, however it ends."""
    stack = Stack(settings)
    try:
        stack.start(progress=lambda line: print(f"· {line}", flush=True))
        yield stack
    finally:
        stack.stop()


def signed_in(settings: Settings, username: str, *, timeout: float = 600) -> tuple[CommonsClient, str]:
    """A new account on the stack, signed in: the client and its token."""
    client = CommonsClient(settings.api_url, timeout=timeout)
    client.sign_up(username, PASSWORD)
    return client, client.sign_in(username, PASSWORD)


def random_sam(folder: Path, config: dict[str, Any]) -> Path:
    """A SAM checkpoint for `config` with random (untrained) weights, seed 0, saved in `folder`: its path."""
    weights = folder / config["checkpoint"]
    save_random_weights(parse_sam_config(config), weights, seed=0)
    return weights


def publish_sam(client: CommonsClient, name: str, title: str, weights: Path, config: dict[str, Any]) -> None:
    """A private `segmenter.sam` resource of `client`'s whose version 1 is `weights` with `config`."""
    client.create_resource(name=name, kind="segmenter.sam", title=title, visibility="private")
    client.upload_version(name, files=[weights], config=config)


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def arguments(doc: str | None, **int_options: int) -> argparse.ArgumentParser:
    """A benchmark's command line: `doc` (its module docstring) as the help, and an integer option per keyword
    (`per_class=60` is `--per-class`, default 60); the caller adds any other option."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in int_options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    return parser


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


@contextmanager
def scratch_postgres(enabled: bool = True) -> Iterator[str | None]:
    """The URL of a new database on the PostgreSQL at 127.0.0.1:5432, dropped after the block; None (and no
    database) unless `enabled`."""
    if not enabled:
        yield None
        return
    import psycopg

    name = f"commons_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
