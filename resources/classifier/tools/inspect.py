"""Layer-by-layer inspection of one image through a float ResNet or a `QuantizedResNet` (INT8 or hybrid).

One `LayerRecord` per unit of `resources.classifier.resnet.units.resnet_units` ("stem", "layer1.0", …, "pool",
"fc"), in execution order, whatever the precision: records of a float model and of its INT8 version line
up one to one by index and name. A record holds the unit's input and output shapes, statistics and a
histogram of its output (INT8 outputs are dequantized: every quantized unit returns float32), and for a
4-D output a greyscale PNG of its first feature maps tiled in a near-square grid.

`write_inspection` saves the records as ``inspect.json`` plus ``maps/NN-<unit>.png`` files::

    {"precision": "float" | "int8" | "hybrid", "input_shape": [1, 3, S, S],
     "layers": [LayerRecord.as_json(), …]}
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from PIL import Image
from torch import fx, nn
from torchvision.models import ResNet

from commons.errors import InvalidInput
from resources.classifier.int8.quantize import Precision, QuantizedResNet, check_images, quiet_quantization
from resources.classifier.resnet.units import resnet_units

MAX_HISTOGRAM_BINS: Final[int] = 1024
MAX_MAPS: Final[int] = 256
MIN_CELL_PX: Final[int] = 32  # small maps are enlarged (nearest neighbour, whole factors) to at least this size
GAP_PX: Final[int] = 2  # white space between tiles
GAP_VALUE: Final[int] = 255
INSPECT_JSON: Final[str] = "inspect.json"
MAPS_DIR: Final[str] = "maps"
_BOUNDARY_FUNCTIONS: Final[frozenset[str]] = frozenset({"quantize_per_tensor", "dequantize"})


@dataclass(frozen=True)
class MapGrid:
    """How a record's PNG is laid out: `count` maps in `rows` x `cols` tiles of `cell` (height, width) pixels.

    Each map (h x w) is enlarged by the whole factor `scale` (so cell = (h·scale, w·scale)); tiles are
    separated by GAP_PX white pixels, so the PNG is (cols·cell_w + (cols−1)·GAP_PX) wide and
    (rows·cell_h + (rows−1)·GAP_PX) high. Tile k (row-major) shows channel k.
    """

    count: int
    rows: int
    cols: int
    cell: tuple[int, int]
    scale: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the PNG in pixels."""
        return (
            self.cols * self.cell[1] + (self.cols - 1) * GAP_PX,
            self.rows * self.cell[0] + (self.rows - 1) * GAP_PX,
        )

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "rows": self.rows, "cols": self.cols, "cell": list(self.cell), "scale": self.scale}


@dataclass(frozen=True)
class LayerRecord:
    """One unit's view of the image.

    `kind`: the unit's architecture, the same in every precision ("BasicBlock", "Linear",
    "Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d)"). `type`: what ran — `kind` for a float unit,
    ``"<kind> [int8: quantized.ConvReLU2d, …]"`` for an INT8 one (the quantized kernels of its FX graph).
    `input_shape`/`output_shape`: NCHW (4-D) or NC (2-D), N = 1. Statistics are over the finite output
    values (float32 or dequantized INT8); `nonfinite` counts the others. `histogram_edges` has
    len(histogram_counts) + 1 entries and the counts sum to numel − nonfinite. `maps_png`: PNG bytes
    (8-bit greyscale) for a 4-D output, else None; each map is min-max normalised to 0..255 on its own.
    """

    index: int
    name: str
    kind: str
    type: str
    precision: Precision
    input_shape: list[int]
    output_shape: list[int]
    min: float
    max: float
    mean: float
    std: float
    nonfinite: int
    histogram_edges: list[float]
    histogram_counts: list[int]
    maps_png: bytes | None = field(default=None, repr=False)
    maps_grid: MapGrid | None = None

    @property
    def png_name(self) -> str | None:
        """Where `write_inspection` puts the PNG, relative to its directory, e.g. "maps/03-layer1.1.png"."""
        return None if self.maps_png is None else f"{MAPS_DIR}/{self.index:02d}-{self.name}.png"

    def as_json(self) -> dict[str, Any]:
        """The record as JSON-ready data, without PNG bytes but with `png` (its file name) and `maps` (grid)."""
        return {
            "index": self.index,
            "name": self.name,
            "kind": self.kind,
            "type": self.type,
            "precision": self.precision,
            "input_shape": self.input_shape,
            "output_shape": self.output_shape,
            "stats": {
                "min": self.min,
                "max": self.max,
                "mean": self.mean,
                "std": self.std,
                "nonfinite": self.nonfinite,
            },
            "histogram": {"edges": self.histogram_edges, "counts": self.histogram_counts},
            "png": self.png_name,
            "maps": None if self.maps_grid is None else self.maps_grid.as_json(),
        }


def inspect_layers(
    model: ResNet | QuantizedResNet, image: torch.Tensor, *, histogram_bins: int = 32, max_maps: int = 16
) -> list[LayerRecord]:
    """Run one image through `model` unit by unit and describe each unit's output.

    `model`: a torchvision ResNet (float, any device; run in eval mode, its mode restored after) or a
    QuantizedResNet (CPU; each unit in its deployed precision, `model.precisions`). `image`: 3xHxW or
    1x3xHxW float32, normalised like training. `histogram_bins`: 1…1024; `max_maps`: 1…256 feature maps
    drawn per 4-D output (channels 0…max_maps−1). Returns one record per unit, in execution order.
    """
    _check_count(histogram_bins, name="histogram_bins", high=MAX_HISTOGRAM_BINS)
    _check_count(max_maps, name="max_maps", high=MAX_MAPS)
    x = _one_image(image)
    if isinstance(model, QuantizedResNet):
        units = [
            (name, model.unit(index, precision), model.float_units[index], precision)
            for index, (name, precision) in enumerate(zip(model.names, model.precisions, strict=True))
        ]
        return _inspect(units, x, histogram_bins=histogram_bins, max_maps=max_maps)
    if isinstance(model, ResNet):
        parameter = next(model.parameters(), None)
        if parameter is not None:
            x = x.to(parameter.device)
        was_training = model.training
        model.eval()
        try:
            float_units: list[tuple[str, nn.Module, nn.Module, Precision]] = [
                (name, unit, unit, "float") for name, unit in resnet_units(model)
            ]
            return _inspect(float_units, x, histogram_bins=histogram_bins, max_maps=max_maps)
        finally:
            model.train(was_training)
    raise InvalidInput(
        f"model: inspection needs a torchvision ResNet or a QuantizedResNet (got {type(model).__name__})",
        field="model",
    )


def write_inspection(records: list[LayerRecord], *, directory: Path) -> Path:
    """Write the records' PNGs under `directory`/maps and then `directory`/inspect.json; return the JSON's path.

    The JSON is written last and atomically (a reader never sees a half-written one):
    ``{"precision": "float" | "int8" | "hybrid", "input_shape": [1, 3, S, S], "layers": [...]}``.
    """
    if not records:
        raise InvalidInput("records: nothing to write; inspect an image first (inspect_layers)", field="records")
    precisions = {record.precision for record in records}
    overall = precisions.pop() if len(precisions) == 1 else "hybrid"
    directory.mkdir(parents=True, exist_ok=True)
    for record in records:
        if record.maps_png is not None and record.png_name is not None:
            target = directory / record.png_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(record.maps_png)
    document = {
        "precision": overall,
        "input_shape": records[0].input_shape,
        "layers": [record.as_json() for record in records],
    }
    path = directory / INSPECT_JSON
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(partial, path)
    return path


def feature_map_grid(output: torch.Tensor, *, max_maps: int) -> tuple[bytes, MapGrid]:
    """PNG (8-bit greyscale) of the first `max_maps` channels of a 1xCxHxW output, and its layout.

    Each map is min-max normalised to 0..255 on its own (a constant map is 0; non-finite values count
    as 0 before normalising), enlarged by a whole factor to at least MIN_CELL_PX and tiled row-major in
    ceil(√n) columns.
    """
    if output.dim() != 4 or output.shape[0] != 1:
        raise InvalidInput(f"output: expected a 1xCxHxW tensor (got shape {tuple(output.shape)})", field="output")
    maps = torch.nan_to_num(output[0, :max_maps].detach().to("cpu", torch.float64), nan=0.0, posinf=0.0, neginf=0.0)
    count, height, width = maps.shape
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = maps.amax(dim=(1, 2), keepdim=True) - low
    scaled = torch.where(span > 0, (maps - low) / torch.where(span > 0, span, 1.0) * 255.0, 0.0)
    pixels = scaled.round().clamp(0, 255).to(torch.uint8).numpy()
    scale = max(1, math.ceil(MIN_CELL_PX / max(1, min(height, width))))
    if scale > 1:
        pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = MapGrid(count=count, rows=rows, cols=cols, cell=(height * scale, width * scale), scale=scale)
    width_px, height_px = grid.size
    canvas = np.full((height_px, width_px), GAP_VALUE, dtype=np.uint8)
    cell_h, cell_w = grid.cell
    for k in range(count):
        row, col = divmod(k, cols)
        top, left = row * (cell_h + GAP_PX), col * (cell_w + GAP_PX)
        canvas[top : top + cell_h, left : left + cell_w] = pixels[k]
    buffer = io.BytesIO()
    Image.fromarray(canvas, mode="L").save(buffer, format="PNG")
    return buffer.getvalue(), grid


def _inspect(
    units: list[tuple[str, nn.Module, nn.Module, Precision]], x: torch.Tensor, *, histogram_bins: int, max_maps: int
) -> list[LayerRecord]:
    records = []
    with torch.inference_mode(), quiet_quantization():
        for index, (name, module, float_module, precision) in enumerate(units):
            out = module(x)
            kind = _kind(float_module)
            records.append(
                _record(
                    index=index,
                    name=name,
                    kind=kind,
                    type_=kind if precision == "float" else f"{kind} [int8: {', '.join(_runs_as(module))}]",
                    precision=precision,
                    x=x,
                    out=out,
                    histogram_bins=histogram_bins,
                    max_maps=max_maps,
                )
            )
            x = out
    return records


def _record(
    *,
    index: int,
    name: str,
    kind: str,
    type_: str,
    precision: Precision,
    x: torch.Tensor,
    out: torch.Tensor,
    histogram_bins: int,
    max_maps: int,
) -> LayerRecord:
    values = out.detach().to("cpu", torch.float64).numpy().reshape(-1)
    finite = values[np.isfinite(values)]
    if finite.size:
        counts, edges = np.histogram(finite, bins=histogram_bins)
        stats = (float(finite.min()), float(finite.max()), float(finite.mean()), float(finite.std()))
    else:
        counts, edges = np.zeros(histogram_bins, dtype=np.int64), np.linspace(0.0, 1.0, histogram_bins + 1)
        stats = (0.0, 0.0, 0.0, 0.0)
    png, grid = feature_map_grid(out, max_maps=max_maps) if out.dim() == 4 else (None, None)
    return LayerRecord(
        index=index,
        name=name,
        kind=kind,
        type=type_,
        precision=precision,
        input_shape=list(x.shape),
        output_shape=list(out.shape),
        min=stats[0],
        max=stats[1],
        mean=stats[2],
        std=stats[3],
        nonfinite=int(values.size - finite.size),
        histogram_edges=[float(edge) for edge in edges],
        histogram_counts=[int(count) for count in counts],
        maps_png=png,
        maps_grid=grid,
    )


def _kind(module: nn.Module) -> str:
    """ "BasicBlock", "Linear"; a Sequential lists its children: "Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d)"."""
    if isinstance(module, nn.Sequential):
        return f"Sequential({', '.join(type(child).__name__ for child in module)})"
    return type(module).__name__


def _runs_as(module: nn.Module) -> list[str]:
    """The distinct modules and functions an INT8 FX unit calls, in graph order (quantize/dequantize left out)."""
    if not isinstance(module, fx.GraphModule):
        return [_kind(module)]
    seen: dict[str, None] = {}
    for node in module.graph.nodes:
        if node.op == "call_module":
            submodule = module.get_submodule(str(node.target))
            kind = type(submodule)
            prefix = "quantized." if "quantized" in kind.__module__ else ""
            seen[prefix + kind.__name__] = None
        elif node.op in ("call_function", "call_method"):
            label = getattr(node.target, "__name__", str(node.target))
            if label not in _BOUNDARY_FUNCTIONS:
                seen[str(node.target) if str(node.target).startswith("quantized.") else label] = None
    return list(seen)


def _one_image(image: object) -> torch.Tensor:
    if isinstance(image, torch.Tensor) and image.dim() == 3:
        image = image.unsqueeze(0)
    x = check_images(image, name="image", channels=3)
    if x.shape[0] != 1:
        raise InvalidInput(
            f"image: inspection takes one image, 3xHxW or 1x3xHxW (got a batch of {x.shape[0]}); pass image[i]",
            field="image",
        )
    return x


def _check_count(value: object, *, name: str, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise InvalidInput(f"{name}: must be an integer from 1 to {high} (got {value!r})", field=name)
