"""resources.classifier.{calibration,quantize,compare}: INT8 post-training quantization of a trained ResNet-18.

The model: ResNet-18 from random weights trained briefly on scikit-learn's digits 0-2 at input 32
(`trained_digits`, cached for this process so the export tests reuse it). INT8 runs on the CPU with the
x86 engine; torch uses 2 threads here. Margin: INT8 accuracy on 60 held-out digits within
ACCURACY_MARGIN_POINTS (5 points = 3 images) of float for every calibration method.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
import torch
from torch import nn
from torch.ao.nn import quantized as qnn
from torch.ao.nn.intrinsic import quantized as qnni
from torchvision.models import ResNet

from commons.errors import InvalidInput
from resources.classifier.config import ClassifierConfig, parse_train_params
from resources.classifier.data import Item, LabelledImages, split_indices
from resources.classifier.int8.calibration import METHODS, KLObserver, PercentileObserver, kl_divergences
from resources.classifier.int8.compare import (
    SQNR_CAP_DB,
    accuracy_comparison,
    compare_units,
    cross_sweep,
    latency_per_image,
    sqnr_db,
    state_dict_bytes,
)
from resources.classifier.int8.quantize import (
    HYBRID_CONV_ONLY,
    Precision,
    QuantizedResNet,
    activation_qparams,
    quantize_int8,
    unit_names,
)
from resources.classifier.resnet.model import build_classifier
from resources.classifier.train import train
from tests.resources.test_classifier_data import digit_items, small_config

ACCURACY_MARGIN_POINTS = 5.0
UNITS = ["stem", *(f"layer{s}.{i}" for s in range(1, 5) for i in range(2)), "pool", "fc"]


pytestmark = pytest.mark.usefixtures("two_threads")


@dataclass(frozen=True)
class Trained:
    model: ResNet
    config: ClassifierConfig
    calibration: list[torch.Tensor]
    held_out: list[Item]
    val_images: torch.Tensor


def images_of(items: list[Item], config: ClassifierConfig) -> torch.Tensor:
    """The items as one Nx3xSxS float32 batch, normalised as at validation time."""
    dataset = LabelledImages(items, config=config)
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


@cache
def trained_digits() -> Trained:
    """ResNet-18 trained on 84 digits (0-2) at 32 px; calibration = 3 batches of its 16-image training set."""
    torch.set_num_threads(2)
    items = digit_items(3, 40)
    train_at, val_at = split_indices([label for _, label in items], val_fraction=0.3, seed=0)
    config = small_config(3, input_size=32)
    model = build_classifier(config, None, device="cpu")
    params = parse_train_params({"epochs": 8, "batch_size": 16, "lr": 1e-3, "target_accuracy": 0.95})
    train_items = [items[i] for i in train_at]
    train(
        model, train_items=train_items, val_items=[items[i] for i in val_at], params=params, config=config, device="cpu"
    )
    train_images = images_of(train_items, config)
    return Trained(
        model=model,
        config=config,
        calibration=list(train_images[:48].split(16)),
        held_out=digit_items(3, 20, skip=40),
        val_images=images_of([items[i] for i in val_at], config),
    )


@pytest.fixture(scope="module")
def trained() -> Trained:
    return trained_digits()


@pytest.fixture(scope="module")
def int8(trained: Trained) -> dict[str, QuantizedResNet]:
    return {method: quantize_int8(trained.model, trained.calibration, method=method) for method in METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_int8_accuracy_is_within_the_margin_of_float(
    trained: Trained, int8: dict[str, QuantizedResNet], method: str
) -> None:
    report = accuracy_comparison(trained.model, int8[method], items=trained.held_out, config=trained.config)
    assert report["count"] == 60
    assert report["float_accuracy"] >= 0.8  # the float model did learn (chance is 1/3)
    assert report["drop_points"] <= ACCURACY_MARGIN_POINTS, report
    assert report["agreement"] >= 0.9


def test_quantized_model_keeps_unit_names_and_runs_int8_kernels(
    trained: Trained, int8: dict[str, QuantizedResNet]
) -> None:
    model = int8["minmax"]
    assert model.names == UNITS == unit_names(trained.model)
    assert model.precisions == ["int8"] * len(UNITS)
    kinds = {type(m) for unit in model.int8_units for m in unit.modules()}
    assert qnni.ConvReLU2d in kinds and qnn.Conv2d in kinds and qnn.Linear in kinds  # conv+bn(+relu) were fused
    assert not any(isinstance(m, nn.BatchNorm2d) for unit in model.int8_units for m in unit.modules())
    assert isinstance(model.float_units[0].get_submodule("1"), nn.BatchNorm2d)  # the float copy is intact
    logits = model(trained.val_images)
    assert logits.dtype == torch.float32 and logits.shape == (len(trained.val_images), 3)
    assert any(p.requires_grad for p in trained.model.parameters())  # the source model is left unchanged


def test_each_method_gives_a_different_scale_somewhere(int8: dict[str, QuantizedResNet]) -> None:
    scales = {
        method: [entry["scale"] for unit in UNITS for entry in activation_qparams(int8[method]).get(unit, [])]
        for method in METHODS
    }
    assert len({len(values) for values in scales.values()}) == 1  # the same quantizers in every model
    for first, second in itertools.combinations(METHODS, 2):
        differing = [
            a for a, b in zip(scales[first], scales[second], strict=True) if not math.isclose(a, b, rel_tol=1e-3)
        ]
        assert differing, f"{first} and {second} give identical scales"
    for minmax, log2 in zip(scales["minmax"], scales["log2"], strict=True):
        assert math.log2(log2) == round(math.log2(log2))  # powers of two
        assert minmax <= log2 < 2 * minmax * (1 + 1e-6)  # rounded up, never clipping more than minmax
    for method in ("percentile", "kl"):  # clipping can only narrow the observed range
        assert all(s <= m * (1 + 1e-6) for s, m in zip(scales[method], scales["minmax"], strict=True))
        assert any(s < 0.99 * m for s, m in zip(scales[method], scales["minmax"], strict=True))


def test_per_unit_report_is_finite_and_worst_first(trained: Trained, int8: dict[str, QuantizedResNet]) -> None:
    report = compare_units(int8["kl"], trained.val_images)
    assert sorted(record.name for record in report) == sorted(UNITS)
    values = [record.sqnr_db for record in report]
    assert values == sorted(values)
    for record in report:
        assert math.isfinite(record.sqnr_db) and math.isfinite(record.propagated_sqnr_db)
        assert 10.0 < record.sqnr_db < SQNR_CAP_DB  # quantized: some error, but a usable signal
        assert 0.9 < record.cosine <= 1.0 and -1.0 <= record.propagated_cosine <= 1.0
        assert record.as_dict()["output_shape"][0] == len(trained.val_images)
    stem = next(record for record in report if record.name == "stem")
    assert stem.sqnr_db == stem.propagated_sqnr_db  # the first unit's input is the image itself in both views
    fc = next(record for record in report if record.name == "fc")
    assert fc.propagated_sqnr_db < fc.sqnr_db  # upstream error accumulates


def test_sqnr_is_capped_for_exact_matches() -> None:
    x = torch.randn(4, 8)
    assert sqnr_db(x, x) == SQNR_CAP_DB
    assert sqnr_db(torch.zeros(3), torch.ones(3)) == -SQNR_CAP_DB
    assert sqnr_db(torch.ones(4), torch.ones(4) * 1.1) == pytest.approx(20.0)


@pytest.mark.parametrize("direction", ["float_then_int8", "int8_then_float"])
def test_cross_inference_ends_are_float_and_int8(
    trained: Trained, int8: dict[str, QuantizedResNet], direction: str
) -> None:
    model, x = int8["minmax"], trained.val_images
    n = len(model.names)
    with torch.inference_mode():
        float_logits, int8_logits = trained.model(x), model(x)
    all_int8_at, all_float_at = (0, n) if direction == "float_then_int8" else (n, 0)
    # the wording, for "int8_then_float": at the last layer the INT8 output, at the first the float one
    assert torch.equal(model.cross(x, all_int8_at, direction=direction), int8_logits)  # type: ignore[arg-type]
    torch.testing.assert_close(model.cross(x, all_float_at, direction=direction), float_logits, atol=1e-5, rtol=1e-5)  # type: ignore[arg-type]
    middle = model.cross(x, n // 2, direction=direction)  # type: ignore[arg-type]
    assert not torch.allclose(middle, int8_logits, atol=1e-4) and not torch.allclose(middle, float_logits, atol=1e-4)
    sweep = cross_sweep(model, x, direction=direction)  # type: ignore[arg-type]
    assert [step["k"] for step in sweep["steps"]] == list(range(n + 1))
    assert sweep["steps"][all_float_at]["sqnr_db"] == SQNR_CAP_DB
    assert sweep["steps"][all_int8_at]["relative_error"] > 0.0
    assert sweep["costliest"]["unit"] in UNITS and sweep["costliest"]["added_error"] > 0.0


def test_hybrid_keeps_the_named_units_float(trained: Trained, int8: dict[str, QuantizedResNet]) -> None:
    model = quantize_int8(trained.model, trained.calibration, method="minmax", keep_float=HYBRID_CONV_ONLY)
    assert model.precisions == ["int8"] * 9 + ["float", "float"]
    assert type(model.int8_units[UNITS.index("fc")]) is nn.Linear
    assert model.int8_units[UNITS.index("pool")] is model.float_units[UNITS.index("pool")]
    assert not any(isinstance(m, qnn.Linear) for unit in model.int8_units for m in unit.modules())
    assert any(isinstance(m, qnni.ConvReLU2d) for m in model.int8_units[UNITS.index("layer4.1")].modules())
    assert set(activation_qparams(model)) == set(UNITS) - HYBRID_CONV_ONLY
    by_name = {record.name: record for record in compare_units(model, trained.val_images)}
    assert by_name["fc"].sqnr_db == by_name["pool"].sqnr_db == SQNR_CAP_DB  # float vs itself
    full = int8["minmax"]
    x = trained.val_images
    with torch.inference_mode():  # the integer part is the same as in the full INT8 model
        integer: list[Precision] = ["int8"] * 9
        floating: list[Precision] = ["float"] * 2
        mixed = integer + floating
        torch.testing.assert_close(model.run(x, mixed), full.run(x, mixed))
    stem_only = quantize_int8(trained.model, trained.calibration[:1], method="log2", keep_float={"stem"})
    assert isinstance(stem_only.int8_units[0], nn.Sequential) and stem_only.precisions[0] == "float"


def test_int8_is_smaller(trained: Trained, int8: dict[str, QuantizedResNet]) -> None:
    float_bytes, int8_bytes = state_dict_bytes(trained.model), state_dict_bytes(int8["minmax"])
    assert int8_bytes < float_bytes / 3
    seconds = latency_per_image(int8["minmax"], input_size=32, repeats=3, warmup=1)
    assert 0.0 < seconds < 5.0


def test_kl_search_matches_a_plain_loop() -> None:
    """The vectorised search equals the TensorRT algorithm written bin by bin (with the same ε smoothing)."""
    rng = np.random.default_rng(0)
    values = np.abs(rng.standard_normal(50_000))
    values[:3] *= 10
    hist, _ = np.histogram(values, bins=256, range=(0, values.max()))
    hist[150:160] = 0

    def smooth(p: np.ndarray) -> np.ndarray:
        p = p / p.sum()
        empty = p == 0
        return p + 1e-4 * empty - 1e-4 * empty.sum() / max((~empty).sum(), 1) * ~empty

    expected = []
    for i in range(64, 257):
        p = hist[:i].astype(float)
        p[-1] += hist[i:].sum()
        q = np.zeros(i)
        group = np.arange(i) * 64 // i
        for g in range(64):
            members = (group == g) & (hist[:i] > 0)
            if members.any():
                q[members] = hist[:i][group == g].sum() / members.sum()
        ps, qs = smooth(p), smooth(q)
        keep = (ps > 0) & (qs > 0)
        expected.append(float((ps[keep] * np.log(ps[keep] / qs[keep])).sum()))
    found = kl_divergences(torch.tensor(hist, dtype=torch.float64), levels=64).numpy()
    np.testing.assert_allclose(found, expected, rtol=1e-7, atol=1e-12)  # prefix sums vs. per-group sums
    assert int(found.argmin()) == int(np.argmin(expected))


def test_histogram_observers_clip_outliers() -> None:
    data = torch.randn(200_000, generator=torch.Generator().manual_seed(0)).abs()
    data[0] = 100.0  # one outlier far above the rest (|x| of a normal: 99.99th percentile ≈ 3.9)
    for observer_type in (PercentileObserver, KLObserver):
        observer = observer_type(dtype=torch.quint8, quant_min=0, quant_max=127)
        for chunk in data.split(50_000):  # the range grows after the first chunk: bins merge exactly
            observer(chunk * 0.5)
            observer(chunk)
        assert float(observer.histogram.sum()) == 2 * data.numel()
        scale, zero_point = observer.calculate_qparams()
        assert int(zero_point) == 0  # non-negative data
        assert 2.0 / 127 < float(scale) < 10.0 / 127, observer_type.__name__  # far below 100/127


def test_bad_inputs_are_refused(trained: Trained) -> None:
    model, calibration = trained.model, trained.calibration[:1]
    with pytest.raises(InvalidInput, match="minmax, percentile, kl, log2") as caught:
        quantize_int8(model, calibration, method="entropy")
    assert caught.value.field == "method"
    with pytest.raises(InvalidInput, match=r"no unit named 'layer9\.0'.*stem, layer1\.0") as caught:
        quantize_int8(model, calibration, method="minmax", keep_float={"fc", "layer9.0"})
    assert caught.value.field == "keep_float"
    with pytest.raises(InvalidInput, match="no images") as caught:
        quantize_int8(model, [], method="minmax")
    assert caught.value.field == "calibration"
    with pytest.raises(InvalidInput, match=r"calibration\[1\]"):
        quantize_int8(model, [calibration[0], torch.zeros(2, 1, 32, 32)], method="minmax")
    with pytest.raises(InvalidInput, match="backend"):
        quantize_int8(model, calibration, method="minmax", backend="tensorrt")
    with pytest.raises(InvalidInput, match="ResNet"):
        quantize_int8(nn.Sequential(nn.Flatten()), calibration, method="minmax")


def test_cross_refuses_bad_arguments(trained: Trained, int8: dict[str, QuantizedResNet]) -> None:
    model = int8["log2"]
    x = trained.val_images[:2]
    with pytest.raises(InvalidInput, match="from 0 to 11"):
        model.cross(x, 12)
    with pytest.raises(InvalidInput, match="float_then_int8, int8_then_float"):
        model.cross(x, 1, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Bx3xHxW"):
        model.cross(x[:, :1], 1)
    with pytest.raises(InvalidInput, match="one per unit"):
        model.run(x, ["float"])


def test_quantizing_a_copy_leaves_the_source_alone(trained: Trained) -> None:
    model = copy.deepcopy(trained.model)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    quantize_int8(model, trained.calibration[:1], method="percentile")
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert isinstance(model.bn1, nn.BatchNorm2d)
