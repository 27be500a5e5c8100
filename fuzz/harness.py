"""What every harness shares: instrumented imports under atheris, the libFuzzer entry point, the seed corpus.

A harness module defines `target(data: bytes) -> None`, which feeds `data` to one parser and lets through
only the exceptions that parser documents (the project's domain errors); anything else is a crash for
libFuzzer and a failure for `tests/security/test_fuzz_corpus.py`, which replays the kept corpus through
`target` without atheris.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "corpus"
HARNESSES = ("zip_import", "weights", "configs", "images")
PROJECT = ["commons", "registry", "resources", "api"]


@contextlib.contextmanager
def instrumented(enabled: bool, *, extra: tuple[str, ...] = ()) -> Iterator[None]:
    """Instrument the imports made inside (the project's packages and `extra`) when run as a fuzzer."""
    if not enabled:
        yield
        return
    import atheris

    with atheris.instrument_imports(include=[*PROJECT, *extra]):
        yield


def fuzz(target: Callable[[bytes], None]) -> None:
    """Run libFuzzer on `target` with this process's command line (corpus folders, -max_total_time, …)."""
    import atheris

    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


def seeds(harness: str) -> list[Path]:
    """The kept corpus of one harness, sorted by name."""
    return sorted(path for path in (CORPUS / harness).iterdir() if path.is_file())


def selector(data: bytes, choices: tuple[Any, ...]) -> tuple[Any, bytes]:
    """The first byte picks one of `choices`; the rest is the input proper."""
    if not data:
        return choices[0], b""
    return choices[data[0] % len(choices)], data[1:]
