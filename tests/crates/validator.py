"""roc-validator, the community's RO-Crate validator, in an environment of its own: it pins `rich<14`, which the
project's tools outgrew, so it cannot share the project's. Made once per machine (pip, from the package
index) under the user's cache folder and reused; each crate is validated offline by `validate_offline.py`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Final

# roc-validator, and rocrate 0.13 for the RO-Crate 1.1 JSON-LD context it ships (see validate_offline.py).
PACKAGES: Final = ("roc-validator==0.13.0", "rocrate==0.13.0")
SCRIPT: Final = Path(__file__).with_name("validate_offline.py")


def _home() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "model-commons" / ("roc-validator-" + "-".join(p.split("==")[1] for p in PACKAGES))


def validator_python() -> Path:
    """The validator environment's Python, made if missing (built aside, then renamed: a half-made one is
    never used)."""
    home = _home()
    python = home / "bin" / "python"
    if python.exists():
        return python
    building = home.with_name(f"{home.name}.{uuid.uuid4().hex[:8]}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=300)
        pip = [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run([*pip, *PACKAGES], capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            raise AssertionError(f"could not install {' '.join(PACKAGES)}: {done.stderr[-3000:]}")
        with contextlib.suppress(OSError):  # another run made it meanwhile
            building.rename(home)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return python


def validate(crate: Path, profile: str) -> dict[str, Any]:
    """roc-validator's verdict on the crate against `profile` at the REQUIRED level: passed, and the issues."""
    done = subprocess.run(
        [str(validator_python()), str(SCRIPT), str(crate), profile],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"roc-validator failed to run ({done.returncode}): {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
