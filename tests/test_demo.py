"""The demo's starter models: registered once, public, untrained, usable by a newcomer; a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

from launcher.demo import STARTERS, ensure_starter_models
from tests.conftest import RunningStack


def starter_state(stack: RunningStack) -> dict[str, tuple[int | None, int]]:
    """name → (latest version, number of versions), as anyone sees them."""
    anonymous = stack.client()
    try:
        state: dict[str, tuple[int | None, int]] = {}
        for starter in STARTERS:
            resource = anonymous.http.get(f"/resources/{starter.name}")
            assert resource.status_code == 200, resource.text
            versions = anonymous.http.get(f"/resources/{starter.name}/versions")
            assert versions.status_code == 200, versions.text
            state[starter.name] = (resource.json()["latest_version"], len(versions.json()))
        return state
    finally:
        anonymous.close()


def test_demo_registers_untrained_starters_once(stack: RunningStack, tmp_path: Path) -> None:
    ensure_starter_models(stack.settings.api_url, data_dir=tmp_path)
    first = starter_state(stack)
    assert first == {starter.name: (1, 1) for starter in STARTERS}
    assert {starter.kind for starter in STARTERS} == {"classifier.resnet", "classifier.blocks"}

    newcomer = stack.new_user()
    try:
        for starter in STARTERS:
            resource = newcomer.http.get(f"/resources/{starter.name}").json()
            assert resource["visibility"] == "public"
            assert "use" in resource["permissions"], resource
            assert "(untrained)" in resource["title"] and "untrained" in resource["description"].lower()
            version = newcomer.http.get(f"/resources/{starter.name}/versions/latest").json()
            assert version["config"].get("checkpoint") is None, "architecture only: weights from init_seed"
            assert version["config"]["input_size"] <= 64, "small enough to train on a CPU"
        listed = [r["name"] for r in newcomer.http.get("/resources?limit=500").json()]
        assert {starter.name for starter in STARTERS} <= set(listed)
    finally:
        newcomer.close()

    ensure_starter_models(stack.settings.api_url, data_dir=tmp_path)
    assert starter_state(stack) == first, "a second run changes nothing"
