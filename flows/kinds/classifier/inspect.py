"""The inspect step for `classifier.resnet`: one photo through the version, unit by unit.

Writes under `work_dir/outputs`:

- `inspect.json` + `maps/NN-<unit>.png`: the version in its own precision (float, or INT8/hybrid for an
  INT8 version) — per unit: type, input and output shapes, min/max/mean/std, histogram, feature maps;
- for an INT8 version also `float/inspect.json` + `float/maps/…` (its float weights, for the float/INT8
  toggle; records line up one to one with the INT8 ones) and `cross.json`: cross inference switching
  precision at every unit boundary in both directions, and the unit whose switch costs the most;
- `graph.json`: the model graph (nodes with type, output shape, parameters and unit; edges) to draw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from commons.errors import InvalidInput
from commons.image_io import decode_image
from flows.kinds.classifier.common import load_float_model, load_model
from flows.steps.prepare import InputFile, Prepared
from flows.steps.reporting import Reporter

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

    from resources.classifier.config import ClassifierConfig, InspectParams
    from resources.classifier.int8.quantize import QuantizedResNet

CROSS_SCHEMA = "model-commons/cross-inference/1"


def inspect_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.classifier.config import parse_classifier_config, parse_inspect_params
    from resources.classifier.int8.quantize import QuantizedResNet
    from resources.classifier.resnet.graph import model_graph
    from resources.classifier.tools.inspect import inspect_layers, write_inspection

    if len(prepared.inputs) != 1:
        raise InvalidInput(f"an inspect task takes one photo (got {len(prepared.inputs)})", field="inputs")
    config = parse_classifier_config(prepared.config)
    params = parse_inspect_params(prepared.params)
    photo = prepared.inputs[0]
    image = _normalised(
        decode_image(photo.file.path.read_bytes(), name=photo.name, max_pixels=max_image_pixels), config=config
    )
    out = prepared.outputs
    model = load_model(prepared, config)
    report.progress(0.2)
    with prepared.timed("inspect"):
        records = inspect_layers(model, image, histogram_bins=params.histogram_bins, max_maps=params.max_maps)
        write_inspection(records, directory=out)
        float_model = load_float_model(prepared, config, device="cpu")
        if isinstance(model, QuantizedResNet):
            _inspect_float(model, float_model, image, photo=photo, params=params, out=out)
        report.progress(0.8)
        graph = model_graph(float_model, input_size=config.input_size)
        (out / "graph.json").write_text(json.dumps(graph, indent=1))
    report.progress(1.0)
    return sorted(path for path in out.rglob("*") if path.is_file() and not path.name.startswith("."))


def _inspect_float(
    model: QuantizedResNet,
    float_model: nn.Module,
    image: torch.Tensor,
    *,
    photo: InputFile,
    params: InspectParams,
    out: Path,
) -> None:
    """For an INT8 version: its float weights inspected under `float/` (records line up one to one with
    the INT8 ones) and, with `params.cross`, `cross.json`."""
    from resources.classifier.int8.compare import cross_sweep
    from resources.classifier.tools.inspect import inspect_layers, write_inspection

    float_records = inspect_layers(float_model, image, histogram_bins=params.histogram_bins, max_maps=params.max_maps)
    write_inspection(float_records, directory=out / "float")
    if params.cross:
        sweeps = {
            direction: cross_sweep(model, image.unsqueeze(0), direction=direction)
            for direction in ("float_then_int8", "int8_then_float")
        }
        cross = {
            "schema": CROSS_SCHEMA,
            "image": {"name": photo.name, "sha256": photo.file.sha256},
            "units": list(model.names),
            "sweeps": sweeps,
        }
        (out / "cross.json").write_text(json.dumps(cross, indent=1))


def _normalised(image: np.ndarray, *, config: ClassifierConfig) -> torch.Tensor:
    """HxWx3 uint8 photo → 3xSxS float32, resized and normalised exactly as evaluation does."""
    from resources.classifier.data import normalise, resize

    return normalise(resize(image, config.input_size), config)
