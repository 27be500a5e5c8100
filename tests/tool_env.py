"""A tool the tests run beside the project, in a virtual environment of its own under the user's cache (its pins
clash with the project's): made once per machine, built aside and then renamed, so a half-made one is never used."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path


def tool_python(name: str, packages: Sequence[str], *, timeout: float = 1200) -> Path:
    """The Python of `~/.cache/model-commons/<name>` with `packages` installed (pip), made if missing."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = cache / "model-commons" / name
    python = home / "bin" / "python"
    if python.exists():
        return python
    building = home.with_name(f"{home.name}.{uuid.uuid4().hex[:8]}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=300)
        pip = [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run([*pip, *packages], capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise AssertionError(f"could not install {' '.join(packages)}: {done.stderr[-3000:]}")
        with contextlib.suppress(OSError):  # another run made it meanwhile
            building.rename(home)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return python
