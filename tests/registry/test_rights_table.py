"""The rights table is one: README and docs/rights.md carry `render_markdown()` verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.rights.table import ROLES, RULES, allowed, render_markdown, rule_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", "docs/rights.md"])
def test_documents_carry_the_table(document: str) -> None:
    text = (ROOT / document).read_text()
    start, end = "<!-- rights-table:start -->\n", "<!-- rights-table:end -->"
    assert start in text and end in text, f"{document} lost its rights-table markers"
    shown = text.split(start, 1)[1].split(end, 1)[0]
    assert shown == render_markdown(), f"{document}'s rights table differs from registry/rights/table.py"


def test_rules_are_unique_and_ordered_by_role() -> None:
    keys = [(rule.method, rule.path) for rule in RULES]
    assert len(keys) == len(set(keys))
    grant = rule_for("POST", "/resources/{name}/grants")
    assert grant is not None
    assert [allowed(grant, role=role, public=True) for role in ROLES] == [False, False, False, True, True]
    read = rule_for("GET", "/resources/{name}")
    assert read is not None
    assert allowed(read, role="none", public=True) and not allowed(read, role="none", public=False)
    assert allowed(read, role="use", public=False)
