"""Reproduction reports: a re-run beside its original task, or beside a version's reported figures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from flows.steps.reproduction import Original, against_reported, against_task, outputs_digests, read_figures

SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64
FIGURES: dict[str, float] = {"accuracy": 0.9, "loss": 0.3, "right": 90, "wrong": 10, "count": 100}
OUTPUTS = {"metrics.json": SHA_A, "model.pt": SHA_B}


def _original(
    *, figures: dict[str, float] | None = None, outputs: dict[str, str] | None = None, device: str | None = "cpu"
) -> Original:
    return Original(
        task_id="task-1",
        outputs=dict(OUTPUTS if outputs is None else outputs),
        figures=dict(FIGURES if figures is None else figures),
        device=device,
    )


def _against(reported: dict[str, Any], figures: dict[str, float], dataset_digest: str | None = None) -> dict[str, Any]:
    """`against_reported` on the CPU, which must give a report."""
    report = against_reported(reported=reported, figures=figures, dataset_digest=dataset_digest, device="cpu")
    assert report is not None
    return report


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in report["figures"]}


# --- against_task -----------------------------------------------------------------------------------------------


def test_identical_cpu_rerun_passes_bit_for_bit() -> None:
    report = against_task(original=_original(), figures=dict(FIGURES), outputs=dict(OUTPUTS), device="cpu")
    assert report["pass"] is True
    assert report["digests_match"] is True
    assert report["differing_outputs"] == []
    assert report["deterministic_expected"] is True
    assert report["against"] == "task"
    assert report["original_task"] == "task-1"
    assert report["devices"] == {"original": "cpu", "reproduced": "cpu"}
    rows = _rows(report)
    assert set(rows) == set(FIGURES)
    assert all(row["tolerance"] == 0 and row["pass"] for row in rows.values())
    assert all(row["match"] for row in report["outputs"])
    assert "identical" in report["summary"]


def test_cpu_rerun_with_one_differing_output_fails() -> None:
    outputs = {**OUTPUTS, "model.pt": SHA_C}
    report = against_task(original=_original(), figures=dict(FIGURES), outputs=outputs, device="cpu")
    assert report["digests_match"] is False
    assert report["pass"] is False
    assert report["differing_outputs"] == ["model.pt"]
    assert "model.pt" in report["summary"]
    assert "metrics.json" not in report["summary"]
    by_name = {row["name"]: row for row in report["outputs"]}
    assert by_name["model.pt"] == {"name": "model.pt", "original": SHA_B, "reproduced": SHA_C, "match": False}
    assert by_name["metrics.json"]["match"] is True


@pytest.mark.parametrize(
    ("original_outputs", "rerun_outputs", "extra"),
    [
        (OUTPUTS, {**OUTPUTS, "extra.txt": SHA_C}, "extra.txt"),
        ({**OUTPUTS, "extra.txt": SHA_C}, OUTPUTS, "extra.txt"),
    ],
    ids=["only-in-rerun", "only-in-original"],
)
def test_output_on_one_side_only_differs(
    original_outputs: dict[str, str], rerun_outputs: dict[str, str], extra: str
) -> None:
    report = against_task(
        original=_original(outputs=original_outputs), figures=dict(FIGURES), outputs=dict(rerun_outputs), device="cpu"
    )
    assert report["differing_outputs"] == [extra]
    assert report["digests_match"] is False
    assert report["pass"] is False
    row = next(row for row in report["outputs"] if row["name"] == extra)
    assert row["match"] is False
    assert None in (row["original"], row["reproduced"])
    assert extra in report["summary"]


def test_cpu_figure_off_by_a_hair_fails() -> None:
    figures = {**FIGURES, "accuracy": FIGURES["accuracy"] + 1e-12}
    report = against_task(original=_original(), figures=figures, outputs=dict(OUTPUTS), device="cpu")
    rows = _rows(report)
    assert rows["accuracy"]["tolerance"] == 0
    assert rows["accuracy"]["pass"] is False
    assert rows["loss"]["pass"] is True
    assert report["pass"] is False


def test_cross_device_holds_figures_to_tolerances_not_digests() -> None:
    figures = {**FIGURES, "accuracy": FIGURES["accuracy"] - 0.01}
    outputs = {name: SHA_C for name in OUTPUTS}
    report = against_task(original=_original(device="cuda"), figures=figures, outputs=outputs, device="cpu")
    assert report["deterministic_expected"] is False
    assert report["devices"] == {"original": "cuda", "reproduced": "cpu"}
    rows = _rows(report)
    assert rows["accuracy"]["tolerance"] == pytest.approx(0.02)
    assert rows["accuracy"]["pass"] is True
    assert rows["loss"]["tolerance"] == pytest.approx(0.05)
    assert report["digests_match"] is False
    assert report["differing_outputs"] == sorted(OUTPUTS)
    assert report["pass"] is True, "differing digests alone do not fail a cross-device re-run"
    assert "cuda" in report["summary"] and "cpu" in report["summary"]


def test_cross_device_loss_outside_tolerance_fails() -> None:
    figures = {**FIGURES, "loss": FIGURES["loss"] + 0.1}
    report = against_task(original=_original(device="cuda"), figures=figures, outputs=dict(OUTPUTS), device="cpu")
    rows = _rows(report)
    assert rows["loss"]["tolerance"] == pytest.approx(0.05)
    assert rows["loss"]["pass"] is False
    assert report["pass"] is False


def test_cross_device_count_tolerance_scales_with_count() -> None:
    original = _original(figures={"right": 900, "wrong": 100, "count": 1000}, device="cuda")
    # round(0.02 * 1000) = 20: a shift of 20 passes, one of 21 fails
    passing = against_task(
        original=original, figures={"right": 880, "wrong": 120, "count": 1000}, outputs=dict(OUTPUTS), device="cpu"
    )
    rows = _rows(passing)
    assert rows["right"]["tolerance"] == 20
    assert rows["wrong"]["tolerance"] == 20
    assert rows["count"]["tolerance"] == 20
    assert passing["pass"] is True
    failing = against_task(
        original=original, figures={"right": 879, "wrong": 121, "count": 1000}, outputs=dict(OUTPUTS), device="cpu"
    )
    assert _rows(failing)["right"]["pass"] is False
    assert _rows(failing)["wrong"]["pass"] is False
    assert failing["pass"] is False


def test_cross_device_count_tolerance_without_count_figure_uses_right_plus_wrong() -> None:
    original = _original(figures={"right": 180, "wrong": 20}, device="cuda")
    report = against_task(original=original, figures={"right": 176, "wrong": 24}, outputs=dict(OUTPUTS), device="cpu")
    assert _rows(report)["right"]["tolerance"] == round(0.02 * 200)
    assert report["pass"] is True


def test_figure_missing_from_rerun_fails_and_is_named() -> None:
    figures = {name: value for name, value in FIGURES.items() if name != "loss"}
    report = against_task(original=_original(), figures=figures, outputs=dict(OUTPUTS), device="cpu")
    assert "loss" not in _rows(report)
    assert report["pass"] is False
    assert "missing" in report["summary"]
    assert "loss" in report["summary"]


def test_figure_missing_from_rerun_fails_across_devices_too() -> None:
    figures = {name: value for name, value in FIGURES.items() if name != "accuracy"}
    report = against_task(original=_original(device="cuda"), figures=figures, outputs=dict(OUTPUTS), device="cpu")
    assert report["pass"] is False
    assert "accuracy" in report["summary"]


def test_unknown_original_device_is_not_deterministic() -> None:
    report = against_task(
        original=_original(device=None), figures=dict(FIGURES), outputs={"model.pt": SHA_C}, device="cpu"
    )
    assert report["deterministic_expected"] is False
    assert report["pass"] is True


# --- against_reported -------------------------------------------------------------------------------------------


def test_reported_without_shared_figures_gives_none() -> None:
    assert against_reported(reported={}, figures=dict(FIGURES), dataset_digest="sha256:x", device="cpu") is None
    reported = {"top5": 0.99, "dataset_digest": "sha256:x", "accuracy": "high"}
    assert against_reported(reported=reported, figures=dict(FIGURES), dataset_digest="sha256:x", device="cpu") is None


def test_reported_accuracy_within_default_tolerance_passes() -> None:
    report = _against({"accuracy": 0.905}, {"accuracy": 0.9})
    assert report["pass"] is True
    assert report["against"] == "reported_metrics"
    assert report["original_task"] is None
    assert report["outputs"] == []
    assert report["deterministic_expected"] is False
    assert report["devices"] == {"original": None, "reproduced": "cpu"}
    row = _rows(report)["accuracy"]
    assert row == {"name": "accuracy", "original": 0.905, "reproduced": 0.9, "tolerance": 0.01, "pass": True}


def test_reported_accuracy_outside_default_tolerance_fails_and_is_named() -> None:
    report = _against({"accuracy": 0.95, "loss": 0.3}, {"accuracy": 0.9, "loss": 0.3})
    assert report["pass"] is False
    assert _rows(report)["accuracy"]["pass"] is False
    assert _rows(report)["loss"]["pass"] is True
    assert "accuracy" in report["summary"]
    assert "loss" not in report["summary"]


def test_reported_numeric_tolerance_is_honoured() -> None:
    figures = {"accuracy": 0.9}
    loose = _against({"accuracy": 0.94, "tolerance": 0.05}, figures)
    assert loose["pass"] is True
    assert _rows(loose)["accuracy"]["tolerance"] == 0.05
    tight = _against({"accuracy": 0.905, "tolerance": 0.001}, figures)
    assert tight["pass"] is False


def test_reported_tolerance_per_figure_is_honoured() -> None:
    reported = {"accuracy": 0.94, "loss": 0.33, "tolerance": {"accuracy": 0.05}}
    report = _against(reported, {"accuracy": 0.9, "loss": 0.3})
    rows = _rows(report)
    assert rows["accuracy"]["tolerance"] == 0.05
    assert rows["accuracy"]["pass"] is True
    assert rows["loss"]["tolerance"] == 0.01, "a figure the dict does not name keeps the default"
    assert rows["loss"]["pass"] is False
    assert report["pass"] is False
    assert "loss" in report["summary"]


def test_reported_counts_need_exact_equality() -> None:
    figures = {"accuracy": 0.9, "right": 90}
    exact = _against({"accuracy": 0.9, "right": 90, "tolerance": 0.05}, figures)
    assert _rows(exact)["right"]["tolerance"] == 0
    assert exact["pass"] is True
    off_by_one = _against({"accuracy": 0.9, "right": 91, "tolerance": 0.05}, figures)
    assert _rows(off_by_one)["right"]["pass"] is False
    assert _rows(off_by_one)["accuracy"]["pass"] is True
    assert off_by_one["pass"] is False
    assert "right" in off_by_one["summary"]


def test_reported_count_tolerance_named_in_dict_is_honoured() -> None:
    figures: dict[str, float] = {"right": 90}
    report = _against({"right": 92, "tolerance": {"right": 3}}, figures)
    assert _rows(report)["right"]["tolerance"] == 3
    assert report["pass"] is True
    unnamed = _against({"right": 91, "tolerance": {"accuracy": 0.5}}, figures)
    assert unnamed["pass"] is False


def test_reported_dataset_digest_equal_matches() -> None:
    report = _against({"accuracy": 0.9, "dataset_digest": "sha256:same"}, {"accuracy": 0.9}, "sha256:same")
    assert report["digests_match"] is True
    assert report["pass"] is True


def test_reported_dataset_digest_different_fails_and_mentions_dataset() -> None:
    report = _against({"accuracy": 0.9, "dataset_digest": "sha256:claimed"}, {"accuracy": 0.9}, "sha256:measured")
    assert report["digests_match"] is False
    assert report["pass"] is False
    assert _rows(report)["accuracy"]["pass"] is True
    assert "dataset" in report["summary"]
    assert "sha256:claimed" in report["summary"] and "sha256:measured" in report["summary"]


def test_reported_dataset_digest_absent_gives_none() -> None:
    report = _against({"accuracy": 0.9}, {"accuracy": 0.9}, "sha256:measured")
    assert report["digests_match"] is None
    assert report["pass"] is True


# --- read_figures / outputs_digests -----------------------------------------------------------------------------


def test_read_figures_reads_metrics_json(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"figures": {"accuracy": 0.9, "right": 9}, "per_class": {}}))
    other = tmp_path / "model.pt"
    other.write_bytes(b"weights")
    assert read_figures([other, metrics]) == {"accuracy": 0.9, "right": 9}


def test_read_figures_without_metrics_json_is_empty(tmp_path: Path) -> None:
    other = tmp_path / "model.pt"
    other.write_bytes(b"weights")
    assert read_figures([other]) == {}
    assert read_figures([]) == {}


def test_read_figures_metrics_without_figures_is_empty(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"per_class": {}}))
    assert read_figures([metrics]) == {}


def test_outputs_digests_maps_relative_posix_names_to_sha256(tmp_path: Path) -> None:
    root = tmp_path / "outputs"
    nested = root / "plots" / "deep"
    nested.mkdir(parents=True)
    top = root / "metrics.json"
    top.write_bytes(b'{"figures": {}}')
    inner = nested / "confusion.png"
    inner.write_bytes(b"\x89PNG not really")
    assert outputs_digests([top, inner], root=root) == {
        "metrics.json": hashlib.sha256(b'{"figures": {}}').hexdigest(),
        "plots/deep/confusion.png": hashlib.sha256(b"\x89PNG not really").hexdigest(),
    }
    assert outputs_digests([], root=root) == {}
