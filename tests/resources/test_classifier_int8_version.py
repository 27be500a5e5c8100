"""resources.classifier.int8.version: an INT8 version stored as float weights + `config.quantization`
rebuilds the calibrated model bit for bit, without the calibration images."""

from __future__ import annotations

import pytest
import torch

from commons.errors import InvalidInput
from resources.classifier.config import ClassifierConfig, QuantizationSpec, parse_classifier_config, unit_names_for
from resources.classifier.int8.calibration import METHODS
from resources.classifier.int8.quantize import HYBRID_CONV_ONLY, quantize_int8, unit_names
from resources.classifier.int8.version import quantization_spec, rebuild_int8
from tests.resources.test_classifier_quantize import trained_digits


@pytest.mark.parametrize("method", METHODS)
def test_a_rebuilt_int8_model_equals_the_calibrated_one_bit_for_bit(method: str) -> None:
    trained = trained_digits()
    calibrated = quantize_int8(trained.model, trained.calibration, method=method)
    spec = quantization_spec(calibrated, calibration={"images": 48})
    # the spec goes through config.json and back, as a version stores it
    config = parse_classifier_config(
        {**trained.config.model_dump(mode="json"), "quantization": spec.model_dump(mode="json")}
    )
    assert config.quantization is not None
    rebuilt = rebuild_int8(trained.model, config.quantization, input_size=trained.config.input_size)
    with torch.inference_mode():
        assert torch.equal(calibrated(trained.val_images), rebuilt(trained.val_images))
    assert rebuilt.precisions == calibrated.precisions


def test_a_hybrid_spec_keeps_its_units_float() -> None:
    trained = trained_digits()
    calibrated = quantize_int8(trained.model, trained.calibration, method="minmax", keep_float=HYBRID_CONV_ONLY)
    rebuilt = rebuild_int8(trained.model, quantization_spec(calibrated, calibration={}), input_size=32)
    assert [name for name, p in zip(rebuilt.names, rebuilt.precisions, strict=True) if p == "float"] == ["pool", "fc"]
    with torch.inference_mode():
        assert torch.equal(calibrated(trained.val_images), rebuilt(trained.val_images))


def test_unit_names_without_torch_match_the_model() -> None:
    trained = trained_digits()
    assert unit_names_for(trained.config.arch) == unit_names(trained.model)


def test_a_spec_that_does_not_fit_the_model_is_refused() -> None:
    trained = trained_digits()
    spec = quantization_spec(quantize_int8(trained.model, trained.calibration, method="minmax"), calibration={})
    missing = spec.model_copy(update={"activations": spec.activations[1:]})
    with pytest.raises(InvalidInput, match="no scale recorded"):
        rebuild_int8(trained.model, missing, input_size=32)
    foreign = spec.model_copy(
        update={"activations": [*spec.activations, spec.activations[0].model_copy(update={"unit": "layer9.0"})]}
    )
    with pytest.raises(InvalidInput, match="do not belong"):
        rebuild_int8(trained.model, foreign, input_size=32)
    with pytest.raises(InvalidInput, match="no unit named"):
        rebuild_int8(trained.model, spec.model_copy(update={"keep_float": ["layer9"]}), input_size=32)


def test_config_refuses_a_malformed_quantization() -> None:
    base = ClassifierConfig(arch="resnet18", classes=["a", "b"]).model_dump(mode="json")
    bad = {"method": "minmax", "activations": [{"unit": "stem", "observes": "x", "scale": -1.0, "zero_point": 0}]}
    with pytest.raises(InvalidInput, match=r"config\.quantization\.activations"):
        parse_classifier_config({**base, "quantization": bad})
    with pytest.raises(InvalidInput, match=r"config\.quantization\.method"):
        parse_classifier_config({**base, "quantization": {**bad, "method": "median"}})
    assert QuantizationSpec.model_fields["backend"].default == "x86"
