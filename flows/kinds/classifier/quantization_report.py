"""The quantization report of an INT8 export: `quantization.json` (float vs. INT8 accuracy, model sizes, latency
per image, per-unit SQNR and cosine, cross inference in both directions) and the same as Markdown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resources.classifier.config import ExportParams
    from resources.classifier.int8.compare import UnitComparison

QUANTIZATION_SCHEMA = "model-commons/quantization-report/1"


@dataclass(frozen=True)
class Int8Measures:
    """The float model against its INT8 one: accuracy on the evaluation images, each unit's error, cross
    inference per direction, latency per image (ms, and the speedup) and state dict sizes (bytes, ratio)."""

    accuracy: dict[str, Any]
    units: list[UnitComparison]
    cross: dict[str, Any]
    latency: dict[str, float]
    sizes: dict[str, float]


def quantization_report(
    *,
    parent: dict[str, Any],
    params: ExportParams,
    calibration: dict[str, Any],
    evaluated_on: dict[str, Any],
    measured: Int8Measures,
    input_size: int,
) -> dict[str, Any]:
    """`quantization.json`: `parent` the float version's reference, `calibration` what
    `config.quantization` records of the calibration images, `evaluated_on` {"images", "held_out"}."""
    accuracy = measured.accuracy
    return {
        "schema": QUANTIZATION_SCHEMA,
        "parent": parent,
        "method": params.method,
        "backend": params.backend,
        "keep_float": sorted(params.keep_float),
        "calibration": calibration,
        "evaluated_on": evaluated_on,
        "accuracy": accuracy,
        "size": measured.sizes,
        "latency_per_image": {**measured.latency, "device": "cpu", "input_size": input_size, "batch": 1},
        "units": [record.as_dict() for record in measured.units],
        "cross": measured.cross,
        "figures": {
            "float_accuracy": accuracy["float_accuracy"],
            "int8_accuracy": accuracy["int8_accuracy"],
        },
    }


def quantization_markdown(report: dict[str, Any]) -> str:
    """The quantization report as Markdown: summary, then units worst first, then the costliest switches."""
    accuracy, size, latency = report["accuracy"], report["size"], report["latency_per_image"]
    parent = report["parent"]
    lines = [
        f"# INT8 quantization of {parent['name']} v{parent['version']}",
        "",
        f"Method `{report['method']}` on `{report['backend']}`, calibrated on {report['calibration']['images']} "
        f"image(s) of `{report['calibration']['dataset']}`; measured on {report['evaluated_on']['images']} image(s)"
        + ("" if report["evaluated_on"]["held_out"] else " (the calibration images themselves: none were left)")
        + (f"; kept in float: {', '.join(report['keep_float'])}" if report["keep_float"] else "")
        + ".",
        "",
        "| | float | INT8 |",
        "|---|---:|---:|",
        f"| accuracy | {100 * accuracy['float_accuracy']:.2f} % | {100 * accuracy['int8_accuracy']:.2f} % |",
        f"| size | {size['float_bytes'] / 1e6:.2f} MB | {size['int8_bytes'] / 1e6:.2f} MB |",
        f"| latency per image ({latency['device']}, {latency['input_size']} px) | {latency['float_ms']:.2f} ms "
        f"| {latency['int8_ms']:.2f} ms |",
        "",
        f"Accuracy lost: {accuracy['drop_points']:.2f} points; predictions agree on "
        f"{100 * accuracy['agreement']:.1f} % of images; INT8 is {latency['speedup']:.2f}× faster and "
        f"{size['ratio']:.2f}× smaller.",
        "",
        "## Units, worst first (the unit's own error: float and INT8 given the same input)",
        "",
        "| unit | precision | SQNR (dB) | cosine | SQNR through the chain (dB) |",
        "|---|---|---:|---:|---:|",
    ]
    for unit in report["units"]:
        lines.append(
            f"| {unit['name']} | {unit['precision']} | {unit['sqnr_db']:.2f} | {unit['cosine']:.5f} "
            f"| {unit['propagated_sqnr_db']:.2f} |"
        )
    lines += ["", "## Cross inference", ""]
    for direction, sweep in report["cross"].items():
        costliest = sweep["costliest"]
        lines.append(
            f"- {direction.replace('_', ' ')}: switching **{costliest['unit']}** costs the most "
            f"(relative error of the logits +{costliest['added_error']:.3g})."
        )
    return "\n".join(lines) + "\n"
