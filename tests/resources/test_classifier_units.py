"""Running a ResNet's units in order is its forward pass."""

from __future__ import annotations

import pytest
import torch

from resources.classifier.config import parse_classifier_config
from resources.classifier.resnet.model import build_classifier
from resources.classifier.resnet.units import UnitSequence, resnet_units


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_units_reproduce_the_forward_pass(arch: str) -> None:
    config = parse_classifier_config({"arch": arch, "classes": ["a", "b", "c"], "input_size": 64, "init_seed": 1})
    model = build_classifier(config, None, device="cpu")
    units = resnet_units(model)
    blocks = {"resnet18": 8, "resnet50": 16}[arch]
    assert [name for name, _ in units][:2] == ["stem", "layer1.0"] and len(units) == blocks + 3
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(UnitSequence(units)(x), model(x))
