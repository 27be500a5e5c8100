"""Float vs. INT8: per-unit error, cross sweep, accuracy, model size and latency (CPU).

Per unit, two views of the same batch:

- isolated: the unit's float and INT8 versions get the SAME input (the float model's activation
  there), so the error is the unit's own;
- propagated: the whole float chain vs. the whole INT8 chain, so the error includes everything upstream.

SQNR = 10·log10(‖f‖² / ‖f − q‖²) in dB, f the float output and q the INT8 one. An exact match (zero
error, e.g. a kept-float unit) would be +∞; it is reported as `SQNR_CAP_DB` (150 dB, above what
float32 rounding alone reaches), and values are clamped to ±150 dB so that every figure is finite.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import torch
from torch import nn

from commons.errors import InvalidInput
from resources.classifier.config import ImageClassifierConfig
from resources.classifier.data import Item
from resources.classifier.evaluate import evaluate
from resources.classifier.int8.quantize import DIRECTIONS, Direction, QuantizedResNet, check_images, quiet_quantization

SQNR_CAP_DB: Final[float] = 150.0


def sqnr_db(reference: torch.Tensor, test: torch.Tensor) -> float:
    """SQNR of `test` against `reference` (same shape, any float dtype), in dB within ±SQNR_CAP_DB."""
    if reference.shape != test.shape:
        raise InvalidInput(f"shapes differ: {tuple(reference.shape)} vs {tuple(test.shape)}", field="test")
    f = reference.detach().double()
    noise = float((f - test.detach().double()).pow(2).sum())
    signal = float(f.pow(2).sum())
    if noise == 0.0:
        return SQNR_CAP_DB
    if signal == 0.0:
        return -SQNR_CAP_DB
    return max(-SQNR_CAP_DB, min(SQNR_CAP_DB, 10.0 * math.log10(signal / noise)))


def cosine_similarity(reference: torch.Tensor, test: torch.Tensor) -> float:
    """Cosine of the angle between the two tensors flattened (batch included); 1.0 when both are zero."""
    a, b = reference.detach().double().reshape(-1), test.detach().double().reshape(-1)
    norms = float(a.norm() * b.norm())
    if norms == 0.0:
        return 1.0 if float(a.norm()) == float(b.norm()) else 0.0
    return max(-1.0, min(1.0, float(a @ b) / norms))


@dataclass(frozen=True)
class UnitComparison:
    """Float vs. INT8 at one unit: `sqnr_db`/`cosine` isolated, `propagated_*` through the whole chain."""

    name: str
    index: int
    precision: str
    output_shape: tuple[int, ...]
    sqnr_db: float
    cosine: float
    propagated_sqnr_db: float
    propagated_cosine: float

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "output_shape": list(self.output_shape)}


@torch.inference_mode()
def compare_units(model: QuantizedResNet, images: torch.Tensor) -> list[UnitComparison]:
    """One record per unit for `images` (Bx3xSxS float32 normalised), worst (lowest isolated SQNR) first.

    Ties keep execution order. Kept-float units show SQNR_CAP_DB and cosine 1 in the isolated view.
    """
    x = check_images(images, name="images")
    float_outputs = model.unit_outputs(x, "float")
    int8_outputs = model.unit_outputs(x, "int8")
    records = []
    inputs = [x, *float_outputs[:-1]]
    with quiet_quantization():
        for index, name in enumerate(model.names):
            own = model.unit(index, "int8")(inputs[index])
            reference = float_outputs[index]
            records.append(
                UnitComparison(
                    name=name,
                    index=index,
                    precision=model.precisions[index],
                    output_shape=tuple(reference.shape),
                    sqnr_db=sqnr_db(reference, own),
                    cosine=cosine_similarity(reference, own),
                    propagated_sqnr_db=sqnr_db(reference, int8_outputs[index]),
                    propagated_cosine=cosine_similarity(reference, int8_outputs[index]),
                )
            )
    return sorted(records, key=lambda record: (record.sqnr_db, record.index))


@torch.inference_mode()
def cross_sweep(model: QuantizedResNet, images: torch.Tensor, *, direction: Direction) -> dict[str, Any]:
    """Cross inference at every boundary k = 0 … n, scored against the float logits, and the costliest switch.

    Returns ``{"direction", "steps": [{"k", "sqnr_db", "cosine", "relative_error"}] (k ascending),
    "costliest": {"unit", "index", "added_error"}}``. relative_error = ‖f − o‖²/‖f‖² of the logits;
    a unit's cost is the relative error added when it alone turns from float to INT8 between
    neighbouring boundaries (error energies add, unlike dB, so the first switch is not favoured).
    """
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction: choose one of {', '.join(DIRECTIONS)} (got {direction!r})", field="direction")
    x = check_images(images, name="images")
    reference = model.run(x, ["float"] * len(model.names))
    energy = float(reference.double().pow(2).sum())
    steps = []
    for k in range(len(model.names) + 1):
        out = model.cross(x, k, direction=direction)
        noise = float((reference.double() - out.double()).pow(2).sum())
        steps.append(
            {
                "k": k,
                "sqnr_db": sqnr_db(reference, out),
                "cosine": cosine_similarity(reference, out),
                "relative_error": noise / energy if energy > 0 else noise,
            }
        )
    # float_then_int8: going from k+1 to k turns unit k to INT8; int8_then_float: going from k to k+1 does.
    added = []
    for index in range(len(model.names)):
        more_int8, less_int8 = (index, index + 1) if direction == "float_then_int8" else (index + 1, index)
        added.append(steps[more_int8]["relative_error"] - steps[less_int8]["relative_error"])
    worst = max(range(len(added)), key=lambda i: added[i])
    return {
        "direction": direction,
        "steps": steps,
        "costliest": {"unit": model.names[worst], "index": worst, "added_error": added[worst]},
    }


def accuracy_comparison(
    float_model: nn.Module,
    int8_model: QuantizedResNet,
    *,
    items: Sequence[Item],
    config: ImageClassifierConfig,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Accuracy of both models on labelled `items` (CPU): ``{"float_accuracy", "int8_accuracy",
    "drop_points" (100·(float − int8)), "count", "agreement" (fraction of identical predictions)}``."""
    float_report = evaluate(float_model.to("cpu"), items=items, config=config, device="cpu", batch_size=batch_size)
    int8_report = evaluate(int8_model, items=items, config=config, device="cpu", batch_size=batch_size)
    same = sum(
        a["predicted"] == b["predicted"]
        for a, b in zip(float_report["predictions"], int8_report["predictions"], strict=True)
    )
    return {
        "float_accuracy": float_report["accuracy"],
        "int8_accuracy": int8_report["accuracy"],
        "drop_points": 100.0 * (float_report["accuracy"] - int8_report["accuracy"]),
        "count": float_report["count"],
        "agreement": same / float_report["count"],
    }


def state_dict_bytes(model: nn.Module) -> int:
    """Size of `torch.save(model.state_dict())` in bytes; a QuantizedResNet counts its deployed path only."""
    module = model.deployable() if isinstance(model, QuantizedResNet) else model
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getbuffer().nbytes


@torch.inference_mode()
def latency_per_image(
    model: nn.Module, *, input_size: int, channels: int = 3, repeats: int = 30, warmup: int = 5
) -> float:
    """Median seconds of one forward pass of a 1xCxSxS float32 batch on the CPU (C = channels, S = input_size).

    Uses the threads torch is set to (`torch.set_num_threads`); the model's mode is left as it was.
    """
    if repeats < 1 or warmup < 0:
        raise InvalidInput(f"repeats must be ≥ 1 and warmup ≥ 0 (got {repeats}, {warmup})", field="repeats")
    x = torch.randn(1, channels, input_size, input_size, generator=torch.Generator().manual_seed(0))
    timings = []
    with quiet_quantization():
        for index in range(warmup + repeats):
            started = time.perf_counter()
            model(x)
            if index >= warmup:
                timings.append(time.perf_counter() - started)
    return statistics.median(timings)
