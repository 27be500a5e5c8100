"""The fuzz harnesses' kept corpus (fuzz/corpus/<harness>/) replayed through each harness's target, without
atheris: every seed, and every input a fuzzing run found and kept, is parsed or refused with a documented
error, never anything else (`make fuzz` runs the harnesses themselves)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from fuzz.harness import HARNESSES, seeds

CASES = [(harness, path) for harness in HARNESSES for path in seeds(harness)]


def test_every_harness_has_seeds() -> None:
    for harness in HARNESSES:
        found = seeds(harness)
        assert len(found) >= 4, harness
        assert sum(path.stat().st_size for path in found) < 64 * 1024, f"keep fuzz/corpus/{harness} small"


@pytest.mark.parametrize(("harness", "path"), CASES, ids=[f"{h}/{p.name}" for h, p in CASES])
def test_corpus_replays(harness: str, path: Path) -> None:
    module = importlib.import_module(f"fuzz.fuzz_{harness}")
    module.target(path.read_bytes())
