"""resources.classifier.tools.export: ONNX (checked with ONNX Runtime) and TorchScript of a ResNet-18 trained on digits.

Reuses the trained model of test_classifier_quantize (cached per process). Tolerances are the module's
defaults: ONNX atol 1e-4 + rtol 1e-3 on logits, TorchScript 1e-5.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from commons.errors import InvalidInput, InvalidWeights
from resources.classifier.int8.quantize import QuantizedResNet, quantize_int8
from resources.classifier.tools.export import (
    ONNX_ATOL,
    ExportMismatch,
    check_onnx,
    check_torchscript,
    export_onnx,
    export_torchscript,
    load_torchscript,
)
from tests.resources.test_classifier_quantize import Trained, trained_digits

pytestmark = pytest.mark.usefixtures("two_threads")


@pytest.fixture(scope="module")
def trained() -> Trained:
    return trained_digits()


@pytest.fixture(scope="module")
def onnx_file(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(trained.model, tmp_path_factory.mktemp("onnx") / "model.onnx", input_size=32)


@pytest.fixture(scope="module")
def int8(trained: Trained) -> QuantizedResNet:
    return quantize_int8(trained.model, trained.calibration, method="kl")


def test_onnx_matches_torch_on_the_validation_images(trained: Trained, onnx_file: Path) -> None:
    onnx.checker.check_model(str(onnx_file))
    difference = check_onnx(onnx_file, trained.model, trained.val_images)
    assert 0.0 <= difference <= ONNX_ATOL
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    for batch in (1, 5):  # the batch axis is dynamic
        (logits,) = session.run(["logits"], {"images": trained.val_images[:batch].numpy()})
        assert logits.shape == (batch, 3) and logits.dtype == np.float32
    assert not list(onnx_file.parent.glob(".*partial"))


def test_onnx_check_reports_a_mismatch_with_numbers(trained: Trained, onnx_file: Path) -> None:
    other = copy.deepcopy(trained.model)
    with torch.no_grad():
        other.fc.bias += 0.01
    with pytest.raises(ExportMismatch, match=r"differ by up to 0\.01.*atol 0\.0001"):
        check_onnx(onnx_file, other, trained.val_images)
    assert check_onnx(onnx_file, other, trained.val_images, atol=0.02) >= 0.0099


def test_onnx_export_refuses_bad_requests(trained: Trained, int8: QuantizedResNet, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="TorchScript"):
        export_onnx(int8, tmp_path / "q.onnx", input_size=32)
    with pytest.raises(InvalidInput, match=r"\.onnx"):
        export_onnx(trained.model, tmp_path / "model.bin", input_size=32)
    with pytest.raises(InvalidInput, match="opset"):
        export_onnx(trained.model, tmp_path / "model.onnx", input_size=32, opset=7)
    (tmp_path / "broken.onnx").write_bytes(b"not a graph")
    with pytest.raises(InvalidWeights, match="ONNX Runtime cannot load"):
        check_onnx(tmp_path / "broken.onnx", trained.model, trained.val_images)


def test_torchscript_round_trip_float_and_int8(trained: Trained, int8: QuantizedResNet, tmp_path: Path) -> None:
    x = trained.val_images
    export_torchscript(trained.model, tmp_path / "float.pt")
    loaded = load_torchscript(tmp_path / "float.pt", input_size=32, num_classes=3)
    assert check_torchscript(loaded, trained.model, x) <= 1e-5
    export_torchscript(int8, tmp_path / "int8.pt")
    loaded_int8 = load_torchscript(tmp_path / "int8.pt", input_size=32, num_classes=3)
    with torch.inference_mode():
        assert torch.equal(loaded_int8(x), int8(x))
    assert check_torchscript(loaded_int8, int8, x) == 0.0
    assert (tmp_path / "int8.pt").stat().st_size < (tmp_path / "float.pt").stat().st_size / 3


def test_torchscript_loader_refuses_bad_files(trained: Trained, tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InvalidWeights, match="not a loadable TorchScript"):
        load_torchscript(tmp_path / "junk.pt", input_size=32, num_classes=3)
    export_torchscript(trained.model, tmp_path / "model.pt")
    with pytest.raises(InvalidWeights, match="expected 1x5 finite logits"):
        load_torchscript(tmp_path / "model.pt", input_size=32, num_classes=5)
    with pytest.raises(InvalidInput, match=r"\.pt"):
        export_torchscript(trained.model, tmp_path / "model.zip")
