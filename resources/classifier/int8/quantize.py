"""Post-training static INT8 quantization of a classifier, unit by unit (CPU, x86/fbgemm).

The classifier is a torchvision ResNet or a model from blocks (`resources.classifier.resnet.units.model_units`;
for blocks a unit starts at each Conv2d or Linear block); inputs are BxCxSxS (C = 3 RGB, 1 grey).

Each unit of `resources.classifier.resnet.units.resnet_units` ("stem", "layer1.0", …, "pool", "fc") is
quantized on its own with FX graph mode (`prepare_fx` fuses conv+bn(+relu), observers calibrate,
`convert_fx` swaps in quantized kernels). A quantized unit takes a float32 tensor, quantizes it with
its own input scale/zero point, runs in INT8 and dequantizes its output, so units of either precision
can follow each other in any order. That gives:

- the INT8 model: every unit in INT8 (the quantize/dequantize at each of the ~11 unit boundaries is
  the price of per-unit inspection; its cost is small beside the convolutions);
- hybrid models: units named in `keep_float` stay float. `HYBRID_CONV_ONLY` ({"pool", "fc"}) is the
  seed platform's HYBRID setting, where only the convolutional part ran in integer;
- cross inference: the first k units in one precision and the rest in the other (`QuantizedResNet.cross`).

Calibration follows the float model: observers see the float activations of each unit (as whole-model
PTQ would), whatever the precision of the units before it.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import torch
from torch import fx, nn
from torch.ao.quantization import QConfigMapping
from torch.ao.quantization.observer import ObserverBase
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from commons.errors import InvalidInput
from resources.classifier.int8.calibration import check_backend, check_method, qconfig_mapping_for
from resources.classifier.resnet.units import UnitSequence, model_units

Precision = Literal["float", "int8"]
Direction = Literal["float_then_int8", "int8_then_float"]
DIRECTIONS: Final[tuple[str, ...]] = ("float_then_int8", "int8_then_float")
HYBRID_CONV_ONLY: Final[frozenset[str]] = frozenset({"pool", "fc"})


@dataclass(frozen=True)
class ActivationQParams:
    """One activation quantizer of a unit: the FX node it observes, its scale and zero point (quint8)."""

    unit: str
    observes: str
    scale: float
    zero_point: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def quiet_quantization() -> Iterator[None]:
    """Silence torch's deprecation notices for `torch.ao.quantization` and quantized tensors (and only those)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel")
        yield


class QuantizedResNet(nn.Module):
    """A ResNet as named units, each available in float and (unless kept float) INT8; CPU only.

    `forward(x)`: x BxCxSxS float32 normalised → BxC float32 logits through the deployed precision of
    each unit (`precisions`). `float_units` is a frozen copy of the float model, kept for cross
    inference and comparison; `deployable()` is the INT8/hybrid path alone (what is exported).
    """

    def __init__(
        self,
        *,
        names: Sequence[str],
        float_units: Sequence[nn.Module],
        deployed_units: Sequence[nn.Module],
        keep_float: frozenset[str],
        method: str,
        backend: str,
        qparams: Sequence[ActivationQParams],
    ) -> None:
        super().__init__()
        self.names = list(names)
        self.float_units = nn.ModuleList(float_units)
        self.int8_units = nn.ModuleList(deployed_units)
        self.keep_float = keep_float
        self.method = method
        self.backend = backend
        self.qparams = list(qparams)
        self.precisions: list[Precision] = ["float" if name in keep_float else "int8" for name in self.names]
        self.channels = _input_channels(float_units)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with quiet_quantization():
            for unit in self.int8_units:
                x = unit(x)
        return x

    def deployable(self) -> UnitSequence:
        """The deployed path (INT8 units, kept-float units) as a `UnitSequence` sharing these modules."""
        return UnitSequence(list(zip(self.names, self.int8_units, strict=True)))

    def unit(self, index: int, precision: Precision) -> nn.Module:
        """Unit `index` in `precision` (a kept-float unit is float in both)."""
        return self.float_units[index] if precision == "float" else self.int8_units[index]

    @torch.inference_mode()
    def run(self, x: torch.Tensor, precisions: Sequence[Precision]) -> torch.Tensor:
        """x BxCxSxS float32 → BxC float32, unit i run in precisions[i] ("float" or "int8")."""
        if len(precisions) != len(self.names):
            raise InvalidInput(
                f"precisions: need one per unit ({len(self.names)}), got {len(precisions)}", field="precisions"
            )
        check_images(x, name="x", channels=self.channels)
        with quiet_quantization():
            for index, precision in enumerate(precisions):
                if precision not in ("float", "int8"):
                    raise InvalidInput(
                        f"precisions[{index}]: {precision!r} is not 'float' or 'int8'", field=f"precisions[{index}]"
                    )
                x = self.unit(index, precision)(x)
        return x

    def cross(self, x: torch.Tensor, k: int, *, direction: Direction = "float_then_int8") -> torch.Tensor:
        """Cross inference switching precision at unit boundary k (0 ≤ k ≤ n, n = number of units).

        "float_then_int8": units[:k] float, units[k:] INT8 — k = 0 is the INT8 output, k = n the float one.
        "int8_then_float": units[:k] INT8, units[k:] float — k = n (switch after the last unit) is the
        INT8 output and k = 0 (switch at the first unit) the float output.
        x: BxCxSxS float32 normalised; returns BxC float32 logits.
        """
        n = len(self.names)
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
            raise InvalidInput(f"k: must be an integer from 0 to {n} (got {k!r})", field="k")
        if direction not in DIRECTIONS:
            raise InvalidInput(
                f"direction: {direction!r} is unknown; choose one of {', '.join(DIRECTIONS)}", field="direction"
            )
        first: Precision = "float" if direction == "float_then_int8" else "int8"
        second: Precision = "int8" if first == "float" else "float"
        precisions: list[Precision] = [first] * k + [second] * (n - k)
        return self.run(x, precisions)

    @torch.inference_mode()
    def unit_outputs(self, x: torch.Tensor, precision: Precision) -> list[torch.Tensor]:
        """Each unit's output (float32) when the whole chain runs in `precision`, in unit order."""
        check_images(x, name="x", channels=self.channels)
        outputs = []
        with quiet_quantization():
            for index in range(len(self.names)):
                x = self.unit(index, precision)(x)
                outputs.append(x)
        return outputs


def quantize_int8(
    model: nn.Module,
    calibration: Iterable[torch.Tensor],
    *,
    method: str,
    keep_float: Iterable[str] = frozenset(),
    backend: str = "x86",
) -> QuantizedResNet:
    """Quantize `model` (left unchanged) to INT8 unit by unit, calibrating on `calibration`.

    `calibration`: batches of BxCxSxS float32 images normalised like training (at least one batch,
    every batch the same channels). `method`: one of calibration.METHODS. `keep_float`: unit names
    that stay float (see `unit_names`). `backend`: "x86" or "fbgemm". The result runs on the CPU.
    """
    check_method(method)
    check_backend(backend)
    units = float_units_of(model)
    kept = check_keep_float([name for name, _ in units], keep_float, field="keep_float")
    mapping = qconfig_mapping_for(method, backend=backend)
    with quantized_engine(backend), quiet_quantization():
        observed = _calibrate(units, calibration, mapping=mapping, keep_float=kept)
        qparams = [
            record
            for (name, _), module in zip(units, observed, strict=True)
            if isinstance(module, fx.GraphModule)
            for record in _observer_qparams(name, module)
        ]
        deployed = [convert_fx(module) if isinstance(module, fx.GraphModule) else module for module in observed]
    return assemble(units, deployed, keep_float=kept, method=method, backend=backend, qparams=qparams)


def float_units_of(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The units of a float32 CPU copy of `model` in eval mode (the model itself is left unchanged)."""
    return model_units(copy.deepcopy(model).to("cpu", torch.float32).eval())


def check_keep_float(names: Sequence[str], keep_float: Iterable[str], *, field: str) -> frozenset[str]:
    """`keep_float` as a set, or InvalidInput naming the units it names that `names` lacks."""
    kept = frozenset(keep_float)
    unknown = sorted(kept - set(names))
    if unknown:
        raise InvalidInput(
            f"{field}: no unit named {', '.join(map(repr, unknown))}; the units are {', '.join(names)}", field=field
        )
    return kept


@contextmanager
def quantized_engine(backend: str) -> Iterator[None]:
    """Run the block with torch's quantized engine set to `backend`, restoring the previous one after."""
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = backend
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def assemble(
    units: list[tuple[str, nn.Module]],
    deployed: Sequence[nn.Module],
    *,
    keep_float: frozenset[str],
    method: str,
    backend: str,
    qparams: Sequence[ActivationQParams],
) -> QuantizedResNet:
    """The QuantizedResNet of float `units` (frozen) and their `deployed` INT8 (or kept-float) versions."""
    float_units = [module for _, module in units]
    for module in float_units:
        module.requires_grad_(False)
    return QuantizedResNet(
        names=[name for name, _ in units],
        float_units=float_units,
        deployed_units=deployed,
        keep_float=keep_float,
        method=method,
        backend=backend,
        qparams=qparams,
    )


def unit_names(model: nn.Module) -> list[str]:
    """The names `keep_float` accepts for this model, in execution order."""
    return [name for name, _ in model_units(model)]


def activation_qparams(model: QuantizedResNet) -> dict[str, list[dict[str, Any]]]:
    """Per INT8 unit, its activation quantizers in graph order: ``{"observes", "scale", "zero_point"}``.

    JSON-ready; the first entry of a unit is its input quantizer. Kept-float units are absent.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for record in model.qparams:
        entry = record.as_dict()
        found.setdefault(entry.pop("unit"), []).append(entry)
    return found


def check_images(x: object, *, name: str, channels: int | None = None) -> torch.Tensor:
    """Return `x` (on the CPU) if it is a non-empty BxCxHxW float32 tensor with C = `channels` (3 for RGB,
    1 for grey; None: any), else raise InvalidInput naming `name`."""
    wanted = "C" if channels is None else str(channels)
    if not isinstance(x, torch.Tensor):
        raise InvalidInput(f"{name}: expected a Bx{wanted}xHxW float32 tensor (got {type(x).__name__})", field=name)
    fits = x.dim() == 4 and x.shape[1] > 0 and (channels is None or x.shape[1] == channels)
    if not fits or x.shape[0] == 0 or x.dtype != torch.float32:
        raise InvalidInput(
            f"{name}: expected a non-empty Bx{wanted}xHxW float32 tensor (got shape {tuple(x.shape)}, {x.dtype})",
            field=name,
        )
    return x.cpu()


def _input_channels(units: Sequence[nn.Module]) -> int | None:
    """The channels the first unit's first layer takes (a Conv2d's in_channels), or None (e.g. a Linear)."""
    for module in units[0].modules() if units else ():
        if isinstance(module, nn.Conv2d):
            return int(module.in_channels)
        if isinstance(module, nn.Linear):
            return None
    return None


def _calibrate(
    units: list[tuple[str, nn.Module]],
    calibration: Iterable[torch.Tensor],
    *,
    mapping: QConfigMapping,
    keep_float: frozenset[str],
) -> list[nn.Module]:
    """Prepared (observed) copies of the units, or the float unit itself for kept ones, after calibration.

    A prepared unit computes the same float output as the original, so running the chain feeds each
    unit's observers the float model's activations.
    """
    chain: list[nn.Module] | None = None
    batches = 0
    channels = _input_channels([module for _, module in units])
    with torch.no_grad():
        for index, batch in enumerate(calibration):
            x = check_images(batch, name=f"calibration[{index}]", channels=channels)
            if chain is None:
                chain = _prepare(units, x, mapping=mapping, keep_float=keep_float)
            for module in chain:
                x = module(x)
            batches += 1
    if chain is None or batches == 0:
        raise InvalidInput(
            "calibration: no images; give at least one batch of BxCxSxS images to calibrate on", field="calibration"
        )
    return chain


def _prepare(
    units: list[tuple[str, nn.Module]], example: torch.Tensor, *, mapping: QConfigMapping, keep_float: frozenset[str]
) -> list[nn.Module]:
    chain: list[nn.Module] = []
    x = example
    for name, unit in units:
        if name in keep_float:
            chain.append(unit)
        else:
            # a bare layer (fc) is wrapped so that FX sees it as a module and swaps in nn.quantized.Linear
            source = copy.deepcopy(unit) if any(True for _ in unit.children()) else nn.Sequential(copy.deepcopy(unit))
            chain.append(prepare_fx(source, mapping, example_inputs=(x,)))
        x = unit(x)
    return chain


def _observer_qparams(unit: str, module: fx.GraphModule) -> list[ActivationQParams]:
    records = []
    for node in module.graph.nodes:
        if node.op != "call_module":
            continue
        observer = module.get_submodule(str(node.target))
        if not isinstance(observer, ObserverBase):
            continue
        scale, zero_point = observer.calculate_qparams()
        source = node.args[0]
        records.append(
            ActivationQParams(
                unit=unit,
                observes=source.name if isinstance(source, fx.Node) else str(source),
                scale=float(scale.reshape(-1)[0]),
                zero_point=int(zero_point.reshape(-1)[0]),
            )
        )
    return records
