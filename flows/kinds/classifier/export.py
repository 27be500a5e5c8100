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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commons.errors import InvalidInput
from flows.kinds.classifier.common import DERIVED_WEIGHTS, load_float_model, load_items, parse_config, save_version
from flows.kinds.classifier.quantization_report import Int8Measures, quantization_markdown, quantization_report
from flows.steps.prepare import Prepared
from flows.steps.records import VersionProduct
from flows.steps.reporting import Reporter

if TYPE_CHECKING:
    import torch

    from flows.kinds.classifier.common import AnyClassifierConfig
    from resources.classifier.config import ExportParams, ImageClassifierConfig, QuantizationSpec
    from resources.classifier.data import Item
    from resources.classifier.int8.quantize import QuantizedResNet

EXPORT_SCHEMA = "model-commons/export/1"


def export_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.classifier.config import parse_export_params

    dataset = prepared.dataset
    if dataset is None:
        raise InvalidInput("an export task needs a dataset to check and calibrate on", field="dataset")
    config = parse_config(prepared)
    params = parse_export_params(prepared.params, config=config)
    model = load_float_model(prepared, config, device="cpu")
    with prepared.timed("load_images"):
        items = load_items(
            dataset, classes=list(config.classes), input_size=config.input_size, max_pixels=max_image_pixels
        )
        calibration_at, evaluation_at, held_out = _split(
            len(items), calibration=params.calibration_images, seed=params.seed
        )
    evaluation = [items[i] for i in evaluation_at]
    images = _Images(
        calibration=[items[i] for i in calibration_at],
        evaluation=evaluation,
        held_out=held_out,
        check=_tensor(evaluation[:64], config),
    )
    report.progress(0.1)

    out = prepared.outputs
    out.mkdir(parents=True, exist_ok=True)
    files, checks = _export_float(model, out, config=config, params=params, images=images.check, report=report)
    if "int8" in params.formats:
        int8_files, int8_checks = _export_int8(
            prepared, model, out, config=config, params=params, images=images, report=report
        )
        files.extend(int8_files)
        checks.update(int8_checks)
    summary = {
        "schema": EXPORT_SCHEMA,
        "resource": prepared.reference(),
        "dataset": dataset.describe(),
        "formats": list(params.formats),
        "split": {"seed": params.seed, "calibration": len(images.calibration), "evaluation": len(images.evaluation)},
        "checks": checks,
        "files": sorted(path.name for path in files),
    }
    (out / "export.json").write_text(json.dumps(summary, indent=2))
    files.append(out / "export.json")
    report.progress(1.0)
    return files


@dataclass(frozen=True)
class _Images:
    """The dataset's labelled images as the export splits them: `calibration` calibrates the INT8 model,
    `evaluation` measures float vs. INT8 (`held_out`: none of them calibrated), `check` is the first 64
    evaluation images as one batch, for the format checks."""

    calibration: list[Item]
    evaluation: list[Item]
    held_out: bool
    check: torch.Tensor


def _export_float(
    model: Any,
    out: Path,
    *,
    config: ImageClassifierConfig,
    params: ExportParams,
    images: torch.Tensor,
    report: Reporter,
) -> tuple[list[Path], dict[str, Any]]:
    """The float formats asked for (ONNX, TorchScript), each checked on `images`: (files, checks)."""
    files: list[Path] = []
    checks: dict[str, Any] = {}
    if "onnx" in params.formats:
        checks["onnx"] = _export_onnx(model, out, images=images, config=config, params=params)
        files.append(out / "model.onnx")
    report.progress(0.3)
    if "torchscript" in params.formats:
        checks["torchscript"] = _export_torchscript(model, out / "model.torchscript.pt", images=images)
        files.append(out / "model.torchscript.pt")
    return files, checks


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
    images: _Images,
    report: Reporter,
) -> tuple[list[Path], dict[str, Any]]:
    """The INT8 model calibrated, checked and measured against the float one; writes the INT8 version
    (float weights + `config.json` with `config.quantization`) and its quantization report."""
    dataset = prepared.dataset
    if dataset is None:  # checked by the caller; keeps the type checker informed
        raise InvalidInput("an export task needs a dataset", field="dataset")
    int8, spec = _calibrate(prepared, model, config=config, params=params, images=images)
    report.progress(0.5)
    measured = _measure(prepared, model, int8, config=config, params=params, images=images, report=report)

    files: list[Path] = []
    checks: dict[str, Any] = {"int8_rebuild": "bit-identical to the calibrated model"}
    if "torchscript" in params.formats:
        checks["torchscript_int8"] = _export_torchscript(int8, out / "model-int8.torchscript.pt", images=images.check)
        files.append(out / "model-int8.torchscript.pt")

    int8_config = config.model_copy(update={"checkpoint": DERIVED_WEIGHTS, "quantization": spec})
    config_dict = save_version(model, int8_config, out=out, weights_name=DERIVED_WEIGHTS)
    quantization = quantization_report(
        parent=prepared.reference(),
        params=params,
        calibration=spec.calibration,
        evaluated_on={"images": len(images.evaluation), "held_out": images.held_out},
        measured=measured,
        input_size=config.input_size,
    )
    (out / "quantization.json").write_text(json.dumps(quantization, indent=2))
    (out / "quantization.md").write_text(quantization_markdown(quantization))
    prepared.product = VersionProduct(
        weights=out / DERIVED_WEIGHTS,
        config=config_dict,
        reported_metrics={
            "accuracy": measured.accuracy["int8_accuracy"],
            "float_accuracy": measured.accuracy["float_accuracy"],
            "measured_on": "export evaluation split",
            "dataset_digest": dataset.digest,
            "split": {"calibration_images": params.calibration_images, "seed": params.seed},
        },
        dataset=dataset.describe(),
        split={
            "calibration": len(images.calibration),
            "evaluation": len(images.evaluation),
            "held_out": images.held_out,
        },
        publish_as=params.publish_as,
    )
    files += [out / DERIVED_WEIGHTS, out / "config.json", out / "quantization.json", out / "quantization.md"]
    return files, checks


def _calibrate(
    prepared: Prepared,
    model: Any,
    *,
    config: AnyClassifierConfig,
    params: ExportParams,
    images: _Images,
) -> tuple[QuantizedResNet, QuantizationSpec]:
    """The INT8 model calibrated on `images.calibration` (records `calibrate_s`) and its `config.quantization`,
    checked to rebuild exactly the model measured here."""
    import torch

    from resources.classifier.int8.quantize import quantize_int8
    from resources.classifier.int8.version import quantization_spec, rebuild_int8
    from resources.classifier.tools.export import ExportMismatch

    dataset = prepared.dataset
    if dataset is None:  # checked by the caller; keeps the type checker informed
        raise InvalidInput("an export task needs a dataset", field="dataset")
    calibration, size = images.calibration, params.batch_size
    batches = [_tensor(calibration[i : i + size], config) for i in range(0, len(calibration), size)]
    with prepared.timed("calibrate"):
        int8 = quantize_int8(
            model, batches, method=params.method, keep_float=frozenset(params.keep_float), backend=params.backend
        )
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
        if not torch.equal(rebuilt(images.check), int8(images.check)):
            raise ExportMismatch("the INT8 model rebuilt from its recorded scales differs from the calibrated one")
    return int8, spec


def _measure(
    prepared: Prepared,
    model: Any,
    int8: QuantizedResNet,
    *,
    config: AnyClassifierConfig,
    params: ExportParams,
    images: _Images,
    report: Reporter,
) -> Int8Measures:
    """Float vs. INT8: accuracy on `evaluation`, each unit's error and cross inference both ways (records
    `compare_s`), then latency per image (records `latency_s`) and sizes."""
    from resources.classifier.int8.compare import accuracy_comparison, compare_units, cross_sweep, state_dict_bytes

    with prepared.timed("compare"):
        accuracy = accuracy_comparison(
            model, int8, items=images.evaluation, config=config, batch_size=params.batch_size
        )
        units = compare_units(int8, images.check)
        cross = {
            direction: cross_sweep(int8, images.check, direction=direction)
            for direction in ("float_then_int8", "int8_then_float")
        }
    report.progress(0.7)
    with prepared.timed("latency"):
        latency = _latency(model, int8, config=config, params=params)
    float_bytes, int8_bytes = state_dict_bytes(model), state_dict_bytes(int8)
    sizes: dict[str, float] = {"float_bytes": float_bytes, "int8_bytes": int8_bytes, "ratio": float_bytes / int8_bytes}
    return Int8Measures(accuracy=accuracy, units=units, cross=cross, latency=latency, sizes=sizes)


def _latency(
    model: Any, int8: QuantizedResNet, *, config: AnyClassifierConfig, params: ExportParams
) -> dict[str, float]:
    """Milliseconds per image of the float and the INT8 model (CPU, batch of one), and the speedup."""
    from resources.classifier.int8.compare import latency_per_image

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
    return latency
