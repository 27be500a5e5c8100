"""An INT8 classifier version as stored in the registry, and the INT8 model rebuilt from it.

A version made by an `export` task keeps its float weights (the same safetensors file as its parent, so
nothing pickled is ever stored) and records in `config.quantization` (`QuantizationSpec`) what turns them
into the INT8 model: calibration method, quantized engine, units kept float, and the scale and zero point
of every activation quantizer. Weight quantizers (per-channel symmetric) are computed from the weights
themselves when the model is converted, so the rebuilt model is the calibrated one bit for bit, without
the calibration images. A weight edit on such a version changes the float weights and keeps the
activation scales: the edited layer is re-quantized at load, as an integer engine would run it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx, nn
from torch.ao.quantization.observer import FixedQParamsObserver, ObserverBase
from torch.ao.quantization.quantize_fx import convert_fx

from commons.errors import InvalidInput
from resources.classifier.config import QuantizationSpec
from resources.classifier.int8.calibration import activation_range, check_backend, qconfig_mapping_for
from resources.classifier.int8.quantize import (
    ActivationQParams,
    QuantizedResNet,
    _prepare,
    assemble,
    check_keep_float,
    float_units_of,
    quantized_engine,
    quiet_quantization,
)


def quantization_spec(model: QuantizedResNet, *, calibration: dict[str, Any]) -> QuantizationSpec:
    """What `config.quantization` records of a calibrated model; `calibration` describes the images used
    (dataset digest, image count, seed) and is kept for provenance only."""
    return QuantizationSpec(
        method=model.method,
        backend=model.backend,
        keep_float=sorted(model.keep_float),
        activations=[record.as_dict() for record in model.qparams],
        calibration=calibration,
    )


def rebuild_int8(model: nn.Module, spec: QuantizationSpec, *, input_size: int, channels: int = 3) -> QuantizedResNet:
    """The INT8 (or hybrid) model of `spec` over the float `model` (left unchanged), on the CPU.

    Same units, observers and conversion as `quantize_int8`, with each activation observer replaced by
    one fixed at the recorded scale and zero point. Raises InvalidInput when the spec does not fit the
    model (a unit or quantizer it names is not there, or one is missing).
    """
    check_backend(spec.backend)
    units = float_units_of(model)
    kept = check_keep_float([name for name, _ in units], spec.keep_float, field="config.quantization.keep_float")
    recorded = {(a.unit, a.observes): a for a in spec.activations}
    used: set[tuple[str, str]] = set()
    mapping = qconfig_mapping_for(spec.method, backend=spec.backend)
    example = torch.zeros(1, channels, input_size, input_size)
    with quantized_engine(spec.backend), quiet_quantization(), torch.no_grad():
        chain = _prepare(units, example, mapping=mapping, keep_float=kept)
        for (name, _), module in zip(units, chain, strict=True):
            if isinstance(module, fx.GraphModule):
                used |= _fix_observers(name, module, recorded=recorded, backend=spec.backend)
        deployed = [convert_fx(module) if isinstance(module, fx.GraphModule) else module for module in chain]
    unused = sorted(set(recorded) - used)
    if unused:
        raise InvalidInput(
            f"config.quantization.activations: {len(unused)} quantizer(s) do not belong to this model "
            f"(first: unit {unused[0][0]!r}, input {unused[0][1]!r}); re-export the version",
            field="config.quantization.activations",
        )
    qparams = [ActivationQParams(**a.model_dump()) for a in spec.activations]
    return assemble(units, deployed, keep_float=kept, method=spec.method, backend=spec.backend, qparams=qparams)


def _fix_observers(
    unit: str, module: fx.GraphModule, *, recorded: dict[tuple[str, str], Any], backend: str
) -> set[tuple[str, str]]:
    quant_min, quant_max = activation_range(backend)
    used = set()
    for node in module.graph.nodes:
        if node.op != "call_module" or not isinstance(module.get_submodule(str(node.target)), ObserverBase):
            continue
        source = node.args[0]
        key = (unit, source.name if isinstance(source, fx.Node) else str(source))
        record = recorded.get(key)
        if record is None:
            raise InvalidInput(
                f"config.quantization.activations: no scale recorded for unit {unit!r}, input {key[1]!r}; "
                "re-export the version",
                field="config.quantization.activations",
            )
        module.set_submodule(
            str(node.target),
            FixedQParamsObserver(
                scale=record.scale,
                zero_point=record.zero_point,
                dtype=torch.quint8,
                qscheme=torch.per_tensor_affine,
                quant_min=quant_min,
                quant_max=quant_max,
            ),
        )
        used.add(key)
    return used
