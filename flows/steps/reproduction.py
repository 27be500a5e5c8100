"""Reproduction reports: a re-run's figures and output digests beside the original's (or beside the
figures a provider reported for the version), each with its tolerance and a pass/fail.

``reproduction.json``::

    {"schema": "model-commons/reproduction/1",
     "against": "task" | "reported_metrics", "original_task": id | null,
     "figures": [{"name", "original", "reproduced", "tolerance", "pass"}, …],
     "outputs": [{"name", "original", "reproduced", "match"}, …],   # sha256 per output (task runs only)
     "digests_match": bool | null, "differing_outputs": [name, …],
     "deterministic_expected": bool, "devices": {"original", "reproduced"},
     "pass": bool, "summary": str}

On the CPU, with deterministic algorithms on and the same seed, a re-run must match bit for bit: the
tolerance is 0 and every output digest must match. Across devices (e.g. a CUDA original re-run on a
CPU) only the figures are held to a tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from commons.hashing import sha256_file
from commons.store import ObjectStore
from flows.steps.manifest import load_manifest
from registry.models import Task

SCHEMA: Final = "model-commons/reproduction/1"
REPORT_NAME: Final = "reproduction.json"
METRICS_NAME: Final = "metrics.json"
COUNT_FIGURES: Final = frozenset({"right", "wrong", "count", "epochs_run"})
# Tolerances where bit-for-bit is not expected (another device, or a provider's reported figure).
CROSS_DEVICE_TOLERANCE: Final = {"accuracy": 0.02, "loss": 0.05, "count": 0.02, "epochs_run": 1.0}
REPORTED_TOLERANCE: Final = 0.01


@dataclass(frozen=True)
class Original:
    """The task a reproduction re-runs: its outputs' digests and the figures it reported."""

    task_id: str
    outputs: dict[str, str]  # output name → sha256
    figures: dict[str, float]
    device: str | None


def load_original(*, store: ObjectStore, task: Task) -> Original:
    outputs = {o["name"]: o["sha256"] for o in task.outputs if o["name"] != REPORT_NAME}
    metrics = next((o for o in task.outputs if o["name"] == METRICS_NAME), None)
    figures = json.loads(store.get_bytes(metrics["key"])).get("figures", {}) if metrics else {}
    device = load_manifest(store=store, key=task.manifest_key).device if task.manifest_key else None
    return Original(task_id=task.id, outputs=outputs, figures=figures, device=device)


def outputs_digests(files: list[Path], *, root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): sha256_file(path) for path in files}


def _cross_device_tolerance(name: str, figures: dict[str, float]) -> float:
    if name == "epochs_run":
        return CROSS_DEVICE_TOLERANCE["epochs_run"]
    if name in COUNT_FIGURES:
        total = figures.get("count") or (figures.get("right", 0) + figures.get("wrong", 0))
        return round(CROSS_DEVICE_TOLERANCE["count"] * total)
    return CROSS_DEVICE_TOLERANCE["loss" if "loss" in name else "accuracy"]


def _figure(name: str, original: float, reproduced: float, tolerance: float) -> dict[str, Any]:
    return {
        "name": name,
        "original": original,
        "reproduced": reproduced,
        "tolerance": tolerance,
        "pass": abs(reproduced - original) <= tolerance,
    }


def against_task(
    *, original: Original, figures: dict[str, float], outputs: dict[str, str], device: str
) -> dict[str, Any]:
    """Compare a re-run with the task it reproduces: every figure, and every output's sha256."""
    deterministic = original.device == "cpu" and device == "cpu"
    rows = [
        _figure(
            name,
            float(original.figures[name]),
            float(figures[name]),
            0.0 if deterministic else _cross_device_tolerance(name, figures),
        )
        for name in sorted(original.figures)
        if name in figures
    ]
    missing = sorted(set(original.figures) - set(figures))
    names = sorted(set(original.outputs) | set(outputs))
    compared = [
        {
            "name": name,
            "original": original.outputs.get(name),
            "reproduced": outputs.get(name),
            "match": original.outputs.get(name) == outputs.get(name),
        }
        for name in names
    ]
    differing = [name for name, row in zip(names, compared, strict=True) if not row["match"]]
    digests_match = not differing
    passed = all(row["pass"] for row in rows) and not missing and (digests_match or not deterministic)
    if digests_match:
        summary = "every output is bit-for-bit identical to the original run"
    else:
        summary = f"{len(differing)} of {len(names)} outputs differ from the original: {', '.join(differing)}"
        if not deterministic:
            summary += f" (expected across devices: {original.device} → {device}; figures held to tolerances)"
    failing = [row["name"] for row in rows if not row["pass"]]
    if failing:
        summary += f"; figures outside tolerance: {', '.join(failing)}"
    if missing:
        summary += f"; figures missing from the re-run: {', '.join(missing)}"
    return {
        "schema": SCHEMA,
        "against": "task",
        "original_task": original.task_id,
        "figures": rows,
        "outputs": compared,
        "digests_match": digests_match,
        "differing_outputs": differing,
        "deterministic_expected": deterministic,
        "devices": {"original": original.device, "reproduced": device},
        "pass": passed,
        "summary": summary,
    }


def against_reported(
    *, reported: dict[str, Any], figures: dict[str, float], dataset_digest: str | None, device: str
) -> dict[str, Any] | None:
    """Compare measured figures with those the version reports; None when it reports none of them.

    `reported` is the version's `reported_metrics`, e.g. ``{"accuracy": 0.975, "dataset_digest":
    "sha256:…", "tolerance": 0.005}``; `tolerance` may also map figure names to tolerances.
    """
    names = sorted(
        name
        for name, value in reported.items()
        if name in figures and isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not names:
        return None
    tolerance = reported.get("tolerance", REPORTED_TOLERANCE)
    rows = []
    for name in names:
        allowed = tolerance.get(name, REPORTED_TOLERANCE) if isinstance(tolerance, dict) else float(tolerance)
        if name in COUNT_FIGURES and not isinstance(tolerance, dict):
            allowed = 0.0
        rows.append(_figure(name, float(reported[name]), float(figures[name]), float(allowed)))
    claimed = reported.get("dataset_digest")
    digests_match = None if claimed is None else claimed == dataset_digest
    passed = all(row["pass"] for row in rows) and digests_match is not False
    failing = [row["name"] for row in rows if not row["pass"]]
    summary = (
        "every reported figure reproduced within its tolerance"
        if not failing
        else f"outside tolerance: {', '.join(failing)}"
    )
    if digests_match is False:
        summary += f"; measured on dataset {dataset_digest}, not on {claimed} where the figures were reported"
    return {
        "schema": SCHEMA,
        "against": "reported_metrics",
        "original_task": None,
        "figures": rows,
        "outputs": [],
        "digests_match": digests_match,
        "differing_outputs": [],
        "deterministic_expected": False,
        "devices": {"original": None, "reproduced": device},
        "pass": passed,
        "summary": summary,
    }


def read_figures(files: list[Path]) -> dict[str, float]:
    """The `figures` of the run's metrics.json among `files` (empty when there is none)."""
    metrics = next((path for path in files if path.name == METRICS_NAME), None)
    if metrics is None:
        return {}
    figures: dict[str, float] = json.loads(metrics.read_text()).get("figures", {})
    return figures


def write_report(*, report: dict[str, Any], out_root: Path) -> Path:
    path = out_root / REPORT_NAME
    path.write_text(json.dumps(report, indent=2))
    return path
