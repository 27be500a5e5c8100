"""docs/architecture.md stays true: every path it names exists, and the modules that cite it are there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
# A path of the repository in backticks: a top-level folder of the project, then more (a name may carry a
# trailing word after a space, as in `launcher/stack.py` `uvicorn_args`; only the path part is checked).
PATH = re.compile(
    r"`((?:commons|resources|registry|flows|services|api|launcher|deploy|helm|tests|docs|bench|fuzz)/[\w./-]*)`"
)


def test_every_path_the_architecture_names_exists() -> None:
    named = sorted(set(PATH.findall(DOC.read_text())))
    assert len(named) > 30, named  # the page names the places it describes
    missing = [path for path in named if not (ROOT / path.rstrip("/")).exists()]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_no_module_cites_a_design_file_outside_the_repository() -> None:
    citing = [
        str(path.relative_to(ROOT))
        for folder in ("commons", "resources", "registry", "flows", "services", "api", "launcher")
        for path in (ROOT / folder).rglob("*.py")
        if "DESIGN.md" in path.read_text()
    ]
    assert not citing, f"cite docs/architecture.md instead: {citing}"
