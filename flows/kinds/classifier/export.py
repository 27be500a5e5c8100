"""The export step for classifiers (`classifier.resnet`, `classifier.blocks`): ONNX, TorchScript and INT8 of a
float version, each checked.

Writes under `work_dir/outputs`:

- `model.onnx` (float; run with ONNX Runtime on the evaluation images and compared with torch, the
  task fails with ExportMismatch beyond the tolerance) — format "onnx";
- `model.torchscript.pt` (float) and, with "int8", `model-int8.torchscript.pt` — format "torchscript";
- with "int8": `weights.safetensors` + `config.json` (the float weights and `config.quantization`: the
  INT8 version this task publishes, lineage to its float parent), `quantization.json` (float vs. INT8
  accuracy, model sizes, latency per image, per-unit SQNR and cosine worst first, cross inference in both
  directions) and `quantization.md` (the same as a readable report);
- `export.json`: what was exported, the checks run and their largest differences.

The dataset's labelled images are split (seeded): up to `calibration_images` calibrate the INT8 model,
the rest measure float vs. INT8 (all of them when none are left, and the report says so).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commons.errors import InvalidInput
from flows.kinds.classifier.common import load_float_model, load_items, parse_config
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter

if TYPE_CHECKING:
    import torch

    from flows.kinds.classifier.common import AnyClassifierConfig
    from resources.classifier.config import ExportParams, ImageClassifierConfig
    from resources.classifier.data import Item

EXPORT_SCHEMA = "model-commons/export/1"
QUANTIZATION_SCHEMA = "model-commons/quantization-report/1"
WEIGHTS_NAME = "weights.safetensors"


def export_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.classifier.config import parse_export_params

    dataset = prepared.dataset
    if dataset is None:
        raise InvalidInput("an export task needs a dataset to check and calibrate on", field="dataset")
    config = parse_config(prepared)
    params = parse_export_params(prepared.params, config=config)
    model = load_float_model(prepared, config, device="cpu")
    started = time.perf_counter()
    items = load_items(dataset, classes=list(config.classes), input_size=config.input_size, max_pixels=max_image_pixels)
    calibration_at, evaluation_at, held_out = _split(
        len(items), calibration=params.calibration_images, seed=params.seed
    )
    prepared.timings["load_images_s"] = round(time.perf_counter() - started, 4)
    evaluation = [items[i] for i in evaluation_at]
    check_images = _tensor(evaluation[:64], config)
    report.progress(0.1)

    out = prepared.work_dir / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    checks: dict[str, Any] = {}
    if "onnx" in params.formats:
        checks["onnx"] = _export_onnx(model, out, images=check_images, config=config, params=params)
        files.append(out / "model.onnx")
    report.progress(0.3)
    if "torchscript" in params.formats:
        checks["torchscript"] = _export_torchscript(model, out / "model.torchscript.pt", images=check_images)
        files.append(out / "model.torchscript.pt")
    if "int8" in params.formats:
        int8_files, int8_checks = _export_int8(
            prepared,
            model,
            out,
            config=config,
            params=params,
            calibration=[items[i] for i in calibration_at],
            evaluation=evaluation,
            held_out=held_out,
            check_images=check_images,
            report=report,
        )
        files.extend(int8_files)
        checks.update(int8_checks)
    summary = {
        "schema": EXPORT_SCHEMA,
        "resource": {k: prepared.resource[k] for k in ("name", "version", "digest")},
        "dataset": dataset.describe(),
        "formats": list(params.formats),
        "split": {"seed": params.seed, "calibration": len(calibration_at), "evaluation": len(evaluation_at)},
        "checks": checks,
        "files": sorted(path.name for path in files),
    }
    (out / "export.json").write_text(json.dumps(summary, indent=2))
    files.append(out / "export.json")
    report.progress(1.0)
    return files


def _split(count: int, *, calibration: int, seed: int) -> tuple[list[int], list[int], bool]:
    """(calibration, evaluation positions, held out): a seeded shuffle; evaluation gets what calibration
    leaves (held out), or every image when calibration takes them all (not held out)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(count).tolist()
    taken = min(calibration, count)
    left = sorted(order[taken:])
    return sorted(order[:taken]), left or list(range(count)), bool(left)


def _tensor(items: list[Item], config: ImageClassifierConfig) -> torch.Tensor:
    """Items as one Nx3xSxS float32 batch, normalised as at evaluation time."""
    import torch

    from resources.classifier.data import LabelledImages

    dataset = LabelledImages(items, config=config)
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


def _export_onnx(
    model: Any, out: Path, *, images: torch.Tensor, config: ImageClassifierConfig, params: ExportParams
) -> dict[str, Any]:
    from resources.classifier.tools.export import ONNX_RTOL, check_onnx, export_onnx

    path = export_onnx(model, out / "model.onnx", input_size=config.input_size, channels=config.input_channels)
    difference = check_onnx(path, model, images, atol=params.onnx_atol, rtol=ONNX_RTOL)
    return {
        "runtime": "onnxruntime (CPUExecutionProvider)",
        "images": int(images.shape[0]),
        "max_abs_difference": difference,
        "tolerance": {"atol": params.onnx_atol, "rtol": ONNX_RTOL},
    }


def _export_torchscript(model: Any, path: Path, *, images: torch.Tensor) -> dict[str, Any]:
    import torch

    from resources.classifier.tools.export import (
        TORCHSCRIPT_ATOL,
        TORCHSCRIPT_RTOL,
        check_torchscript,
        export_torchscript,
        load_torchscript,
    )

    export_torchscript(model, path)
    with torch.inference_mode():
        logits = model(images[:1])
    loaded = load_torchscript(
        path, input_size=int(images.shape[-1]), num_classes=int(logits.shape[-1]), channels=int(images.shape[1])
    )
    difference = check_torchscript(loaded, model, images)
    return {
        "images": int(images.shape[0]),
        "max_abs_difference": difference,
        "tolerance": {"atol": TORCHSCRIPT_ATOL, "rtol": TORCHSCRIPT_RTOL},
    }


def _export_int8(
    prepared: Prepared,
    model: Any,
    out: Path,
    *,
    config: AnyClassifierConfig,
    params: ExportParams,
    calibration: list[Item],
    evaluation: list[Item],
    held_out: bool,
    check_images: torch.Tensor,
    report: Reporter,
) -> tuple[list[Path], dict[str, Any]]:
    import torch

    from resources.classifier.int8.compare import (
        accuracy_comparison,
        compare_units,
        cross_sweep,
        latency_per_image,
        state_dict_bytes,
    )
    from resources.classifier.int8.quantize import quantize_int8
    from resources.classifier.int8.version import quantization_spec, rebuild_int8
    from resources.classifier.resnet.model import save_weights
    from resources.classifier.tools.export import ExportMismatch

    dataset = prepared.dataset
    if dataset is None:  # checked by the caller; keeps the type checker informed
        raise InvalidInput("an export task needs a dataset", field="dataset")
    size = params.batch_size
    batches = [_tensor(calibration[i : i + size], config) for i in range(0, len(calibration), size)]
    started = time.perf_counter()
    int8 = quantize_int8(
        model, batches, method=params.method, keep_float=frozenset(params.keep_float), backend=params.backend
    )
    prepared.timings["calibrate_s"] = round(time.perf_counter() - started, 4)
    spec = quantization_spec(
        int8,
        calibration={
            "dataset": dataset.name,
            "dataset_digest": dataset.digest,
            "images": len(calibration),
            "seed": params.seed,
        },
    )
    # What the version stores must rebuild exactly the model measured here.
    rebuilt = rebuild_int8(model, spec, input_size=config.input_size, channels=config.input_channels)
    with torch.inference_mode():
        if not torch.equal(rebuilt(check_images), int8(check_images)):
            raise ExportMismatch("the INT8 model rebuilt from its recorded scales differs from the calibrated one")
    report.progress(0.5)

    started = time.perf_counter()
    accuracy = accuracy_comparison(model, int8, items=evaluation, config=config, batch_size=params.batch_size)
    units = compare_units(int8, check_images)
    cross = {
        direction: cross_sweep(int8, check_images, direction=direction)
        for direction in ("float_then_int8", "int8_then_float")
    }
    prepared.timings["compare_s"] = round(time.perf_counter() - started, 4)
    report.progress(0.7)
    started = time.perf_counter()
    latency = {
        "float_ms": 1000
        * latency_per_image(
            model, input_size=config.input_size, channels=config.input_channels, repeats=params.latency_repeats
        ),
        "int8_ms": 1000
        * latency_per_image(
            int8, input_size=config.input_size, channels=config.input_channels, repeats=params.latency_repeats
        ),
    }
    latency["speedup"] = latency["float_ms"] / latency["int8_ms"]
    prepared.timings["latency_s"] = round(time.perf_counter() - started, 4)
    float_bytes, int8_bytes = state_dict_bytes(model), state_dict_bytes(int8)
    sizes: dict[str, float] = {"float_bytes": float_bytes, "int8_bytes": int8_bytes, "ratio": float_bytes / int8_bytes}

    files: list[Path] = []
    checks: dict[str, Any] = {"int8_rebuild": "bit-identical to the calibrated model"}
    if "torchscript" in params.formats:
        checks["torchscript_int8"] = _export_torchscript(int8, out / "model-int8.torchscript.pt", images=check_images)
        files.append(out / "model-int8.torchscript.pt")

    weights = out / WEIGHTS_NAME
    save_weights(model, path=weights)
    int8_config = config.model_copy(update={"checkpoint": WEIGHTS_NAME, "quantization": spec})
    config_dict = int8_config.model_dump(mode="json", exclude_none=True)
    (out / "config.json").write_text(json.dumps(config_dict, indent=2))
    quantization = {
        "schema": QUANTIZATION_SCHEMA,
        "parent": {k: prepared.resource[k] for k in ("name", "version", "digest")},
        "method": params.method,
        "backend": params.backend,
        "keep_float": sorted(params.keep_float),
        "calibration": spec.calibration,
        "evaluated_on": {"images": len(evaluation), "held_out": held_out},
        "accuracy": accuracy,
        "size": sizes,
        "latency_per_image": {**latency, "device": "cpu", "input_size": config.input_size, "batch": 1},
        "units": [record.as_dict() for record in units],
        "cross": cross,
        "figures": {
            "float_accuracy": accuracy["float_accuracy"],
            "int8_accuracy": accuracy["int8_accuracy"],
        },
    }
    (out / "quantization.json").write_text(json.dumps(quantization, indent=2))
    (out / "quantization.md").write_text(quantization_markdown(quantization))
    prepared.product = {
        "weights": weights,
        "config": config_dict,
        "reported_metrics": {
            "accuracy": accuracy["int8_accuracy"],
            "float_accuracy": accuracy["float_accuracy"],
            "measured_on": "export evaluation split",
            "dataset_digest": dataset.digest,
            "split": {"calibration_images": params.calibration_images, "seed": params.seed},
        },
        "dataset": dataset.describe(),
        "split": {"calibration": len(calibration), "evaluation": len(evaluation), "held_out": held_out},
        "publish_as": params.publish_as,
    }
    files += [weights, out / "config.json", out / "quantization.json", out / "quantization.md"]
    return files, checks


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
