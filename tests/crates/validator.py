"""roc-validator, the community's RO-Crate validator, in an environment of its own: it pins `rich<14`, which the
project's tools outgrew, so it cannot share the project's. Made once per machine (pip, from the package
index) under the user's cache folder and reused; each crate is validated offline by `validate_offline.py`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Final

from tests.tool_env import tool_python

# roc-validator, and rocrate 0.13 for the RO-Crate 1.1 JSON-LD context it ships (see validate_offline.py).
PACKAGES: Final = ("roc-validator==0.13.0", "rocrate==0.13.0")
SCRIPT: Final = Path(__file__).with_name("validate_offline.py")


def validator_python() -> Path:
    """The validator environment's Python (tests/tool_env.py), made if missing."""
    return tool_python("roc-validator-" + "-".join(p.split("==")[1] for p in PACKAGES), PACKAGES, timeout=900)


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
