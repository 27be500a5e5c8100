"""A torchvision ResNet as a sequence of named units that run one after the other.

    stem      conv1 → bn1 → relu → maxpool      Bx3xSxS  → Bx64x(S/4)x(S/4)
    layerN.i  one residual block (BasicBlock or Bottleneck) of layerN
    pool      avgpool → flatten                 BxCx h x w → BxC
    fc        the classification head           BxC → BxK logits

Running the units in order is the model's forward pass (same ops, same order, same result). Quantization
works unit by unit (each unit can be float or INT8, which gives hybrid models and cross inference), and
inspection records one entry per unit.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import ResNet

from commons.errors import InvalidInput


def model_units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The units of a classifier: a torchvision ResNet's (`resnet_units`) or a model from blocks' (its
    `units()`: a unit starts at each Conv2d or Linear block). InvalidInput for any other model."""
    if isinstance(model, ResNet):
        return resnet_units(model)
    units = getattr(model, "units", None)
    if callable(units):
        found: list[tuple[str, nn.Module]] = units()
        return found
    raise InvalidInput(
        f"model: units are defined for a torchvision ResNet or a model from blocks (got {type(model).__name__})",
        field="model",
    )


def resnet_units(model: ResNet) -> list[tuple[str, nn.Module]]:
    """The model's units in execution order; the modules are the model's own (not copies)."""
    units: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool))]
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for index, block in enumerate(getattr(model, stage)):
            units.append((f"{stage}.{index}", block))
    units.append(("pool", nn.Sequential(model.avgpool, nn.Flatten(1))))
    units.append(("fc", model.fc))
    return units


class UnitSequence(nn.Module):
    """Runs named units in order: x → units[0] → … → units[-1]."""

    def __init__(self, units: list[tuple[str, nn.Module]]) -> None:
        super().__init__()
        self.names = [name for name, _ in units]
        self.units = nn.ModuleList(module for _, module in units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.units:
            x = unit(x)
        return x
