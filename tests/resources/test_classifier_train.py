"""resources.classifier.train: a random-init ResNet-18 learns real digits on the CPU, deterministically.

Digits: scikit-learn's 8x8 handwritten digits 0-2 at input_size 32. Textures: 32x32 crops of
scikit-image's brick, grass and gravel photos. Torch runs on 2 threads here (restored afterwards).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torchvision.models import ResNet

from commons.errors import InvalidInput
from resources.classifier.config import ClassifierConfig, TrainParams, parse_train_params
from resources.classifier.data import Item, split_indices
from resources.classifier.evaluate import evaluate, predict
from resources.classifier.resnet.model import build_classifier
from resources.classifier.train import TrainResult, train
from tests.resources.test_classifier_data import digit_items, small_config, texture_items

EPOCH_KEYS = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}


pytestmark = pytest.mark.usefixtures("two_threads")


@dataclass
class Run:
    model: ResNet
    config: ClassifierConfig
    result: TrainResult
    epochs_seen: list[dict[str, Any]]


@pytest.fixture(scope="module")
def digit_run() -> Run:
    """ResNet-18 from random weights on 105 digits (0, 1, 2), validated on 45, target accuracy 0.9."""
    config = small_config(3, input_size=32)
    seen: list[dict[str, Any]] = []
    params = parse_train_params({"epochs": 15, "batch_size": 16, "lr": 1e-3, "target_accuracy": 0.9})
    model, result = _trained(digit_items(3, 50), config, params, val_fraction=0.3, on_epoch=seen.append)
    return Run(model, config, result, seen)


def _trained(
    items: list[Item], config: ClassifierConfig, params: TrainParams, *, val_fraction: float, **options: Any
) -> tuple[ResNet, TrainResult]:
    """A new ResNet for `config` trained on the CPU on `items`, `val_fraction` of them (split with seed 0) kept
    for validation; `options` go to `train`."""
    train_at, val_at = split_indices([label for _, label in items], val_fraction=val_fraction, seed=0)
    model = build_classifier(config, None, device="cpu")
    training, validation = [items[i] for i in train_at], [items[i] for i in val_at]
    result = train(
        model, train_items=training, val_items=validation, params=params, config=config, device="cpu", **options
    )
    return model, result


def test_learns_digits_and_stops_at_the_target(digit_run: Run) -> None:
    result = digit_run.result
    assert result.stopped_early and not result.cancelled
    assert result.stop_reason is not None and "reached the target 0.9" in result.stop_reason
    assert 1 <= result.epochs_run < 15
    assert result.history[-1]["val_accuracy"] >= 0.9
    assert all(record["val_accuracy"] < 0.9 for record in result.history[:-1])
    assert result.best_epoch == result.epochs_run  # the first to reach the target is the best so far
    assert not digit_run.model.training
    summary = json.loads(json.dumps(result.as_dict()))
    assert summary["epochs_run"] == result.epochs_run and summary["stopped_early"] is True


def test_on_epoch_gets_every_epoch_once_with_all_keys(digit_run: Run) -> None:
    assert digit_run.epochs_seen == digit_run.result.history
    assert [record["epoch"] for record in digit_run.epochs_seen] == list(range(1, digit_run.result.epochs_run + 1))
    for record in digit_run.epochs_seen:
        assert set(record) == EPOCH_KEYS
        assert 0.0 <= record["train_accuracy"] <= 1.0 and 0.0 <= record["val_accuracy"] <= 1.0
        assert record["train_loss"] >= 0.0 and record["val_loss"] >= 0.0 and record["seconds"] > 0.0


# Adam at lr 3e-3, seed 0, on 42 digits (0-2) validated on 18: val accuracy 1/3, 1.0, 1/3, 5/9 over 4 epochs.
UNSTEADY: dict[str, Any] = {"epochs": 4, "batch_size": 8, "lr": 3e-3, "target_accuracy": None, "seed": 0}


@pytest.fixture(scope="module")
def unsteady_digits() -> tuple[list[Item], list[Item]]:
    """(training, validation) digits 0-2, 20 of each, 30 % kept for validation (split with seed 0)."""
    items = digit_items(3, 20)
    train_at, val_at = split_indices([label for _, label in items], val_fraction=0.3, seed=0)
    return [items[i] for i in train_at], [items[i] for i in val_at]


def _val_accuracy(model: ResNet, config: ClassifierConfig, val_items: list[Item]) -> float:
    report = evaluate(model, items=val_items, config=config, device="cpu", batch_size=8)
    return float(report["right"] / report["count"])


def _unsteady_run(
    digits: tuple[list[Item], list[Item]], *, epochs: int = 4, **options: Any
) -> tuple[ResNet, ClassifierConfig, TrainResult]:
    config = small_config(3, input_size=32)
    model = build_classifier(config, None, device="cpu")
    training, validation = digits
    params = parse_train_params({**UNSTEADY, "epochs": epochs})
    result = train(
        model, train_items=training, val_items=validation, params=params, config=config, device="cpu", **options
    )
    return model, config, result


def test_the_best_epoch_is_kept_not_the_last(unsteady_digits: tuple[list[Item], list[Item]]) -> None:
    model, config, result = _unsteady_run(unsteady_digits)
    accuracies = [record["val_accuracy"] for record in result.history]
    assert result.epochs_run == 4 and not result.stopped_early and not result.cancelled
    best = max(range(len(accuracies)), key=accuracies.__getitem__) + 1  # the first of the highest
    assert accuracies[-1] < accuracies[best - 1], f"validation accuracy must drop after its best: {accuracies}"
    assert result.best_epoch == best < result.epochs_run
    assert result.best_val_accuracy == accuracies[best - 1]
    assert _val_accuracy(model, config, unsteady_digits[1]) == pytest.approx(result.best_val_accuracy, abs=1e-6)
    assert not model.training
    summary = json.loads(json.dumps(result.as_dict()))
    assert summary["best_epoch"] == best and summary["best_val_accuracy"] == result.best_val_accuracy


def test_a_cancelled_run_keeps_its_best_epoch(unsteady_digits: tuple[list[Item], list[Item]]) -> None:
    """Cancelled in its fifth epoch, after the best one and a worse one (the four epochs of the run above, the same
    seed): the best epoch's weights stay."""
    batches = math.ceil(len(unsteady_digits[0]) / UNSTEADY["batch_size"])
    asked: list[int] = []

    def stop_in_the_last_epoch() -> bool:
        asked.append(1)
        return len(asked) > 4 * batches + 1

    model, config, result = _unsteady_run(unsteady_digits, epochs=5, should_stop=stop_in_the_last_epoch)
    accuracies = [record["val_accuracy"] for record in result.history]
    assert result.cancelled and result.epochs_run == 4
    assert result.best_epoch is not None and accuracies[-1] < accuracies[result.best_epoch - 1], accuracies
    assert result.best_epoch == max(range(4), key=accuracies.__getitem__) + 1
    assert _val_accuracy(model, config, unsteady_digits[1]) == pytest.approx(result.best_val_accuracy, abs=1e-6)


def test_evaluate_on_unseen_digits(digit_run: Run) -> None:
    items = digit_items(3, 20, skip=50)
    report = evaluate(digit_run.model, items=items, config=digit_run.config, device="cpu", batch_size=16)
    assert report["count"] == 60 and report["right"] + report["wrong"] == 60
    assert report["accuracy"] == report["right"] / 60 > 0.6  # chance is 1/3
    matrix = report["confusion_matrix"]
    assert len(matrix) == 3 and sum(map(sum, matrix)) == 60
    assert [sum(row) for row in matrix] == [20, 20, 20]  # rows are the true classes
    assert sum(matrix[i][i] for i in range(3)) == report["right"]
    per_class = report["per_class"]
    assert list(per_class) == ["c0", "c1", "c2"]
    assert sum(entry["support"] for entry in per_class.values()) == 60
    assert all(0.0 <= entry[k] <= 1.0 for entry in per_class.values() for k in ("precision", "recall", "f1"))
    predictions = report["predictions"]
    assert [p["index"] for p in predictions] == list(range(60))
    assert sum(p["correct"] for p in predictions) == report["right"]
    for prediction, (_, label) in zip(predictions, items, strict=True):
        assert prediction["true"] == f"c{label}"
        assert prediction["correct"] == (prediction["true"] == prediction["predicted"])
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert max(prediction["probabilities"], key=prediction["probabilities"].get) == prediction["predicted"]


def test_predict_top_k(digit_run: Run) -> None:
    images = [image for image, _ in digit_items(3, 2, skip=70)]
    ranked = predict(digit_run.model, images=images, config=digit_run.config, device="cpu", top_k=2, batch_size=4)
    assert len(ranked) == 6
    for labels in ranked:
        assert len(labels) == 2 and {entry["label"] for entry in labels} <= {"c0", "c1", "c2"}
        probabilities = [entry["probability"] for entry in labels]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0 + 1e-6
    every = predict(digit_run.model, images=images[:1], config=digit_run.config, device="cpu", top_k=10, batch_size=4)
    assert len(every[0]) == 3 and sum(e["probability"] for e in every[0]) == pytest.approx(1.0, abs=1e-5)
    assert predict(digit_run.model, images=[], config=digit_run.config, device="cpu", top_k=1, batch_size=4) == []
    with pytest.raises(InvalidInput, match=r"images\[0\] must be an HxWx3 uint8"):
        predict(
            digit_run.model, images=[images[0][:, :, 0]], config=digit_run.config, device="cpu", top_k=1, batch_size=1
        )


def _texture_run(params: TrainParams, *, init_seed: int = 0) -> tuple[ResNet, TrainResult]:
    return _trained(texture_items(12), small_config(3, input_size=32, init_seed=init_seed), params, val_fraction=0.25)


def _state(model: ResNet) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_same_seed_gives_bit_identical_weights_whatever_the_workers() -> None:
    raw = {"epochs": 2, "batch_size": 8, "target_accuracy": None, "augment": ["rotate", "blur", "flip", "flop"]}
    rng_before = torch.get_rng_state()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    first, first_result = _texture_run(parse_train_params({**raw, "seed": 3}))
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert torch.are_deterministic_algorithms_enabled() == deterministic_before
    second, second_result = _texture_run(parse_train_params({**raw, "seed": 3, "num_workers": 2}))
    other, _ = _texture_run(parse_train_params({**raw, "seed": 4}))
    weights, again, different = _state(first), _state(second), _state(other)
    assert all(torch.equal(weights[name], again[name]) for name in weights)
    assert [r["train_loss"] for r in first_result.history] == [r["train_loss"] for r in second_result.history]
    assert not torch.equal(weights["conv1.weight"], different["conv1.weight"])
    assert not torch.equal(weights["fc.weight"], different["fc.weight"])


def test_frozen_backbone_trains_only_the_head() -> None:
    params = parse_train_params(
        {"epochs": 2, "batch_size": 8, "optimizer": "sgd", "lr": 0.05, "freeze_backbone": True, "target_accuracy": None}
    )
    initial = _state(build_classifier(small_config(3, input_size=32, init_seed=5), None, device="cpu"))
    model, result = _texture_run(params, init_seed=5)
    trained = _state(model)
    assert result.epochs_run == 2 and not result.stopped_early
    changed = sorted(name for name in initial if not torch.equal(initial[name], trained[name]))
    assert changed == ["fc.bias", "fc.weight"]  # batch norm statistics of the frozen backbone stay put too


def test_should_stop_cancels_between_batches() -> None:
    asked: list[int] = []

    def stop_on_third_batch() -> bool:
        asked.append(1)
        return len(asked) >= 3

    items = texture_items(6)
    config = small_config(3, input_size=32)
    model = build_classifier(config, None, device="cpu")
    epochs: list[dict[str, Any]] = []
    result = train(
        model,
        train_items=items[:12],
        val_items=items[12:],
        params=parse_train_params({"epochs": 5, "batch_size": 2}),
        config=config,
        device="cpu",
        on_epoch=epochs.append,
        should_stop=stop_on_third_batch,
    )
    assert result.cancelled and not result.stopped_early
    assert len(asked) == 3 and result.history == [] and epochs == []


def test_training_inputs_are_checked() -> None:
    config = small_config(3, input_size=32)
    model = build_classifier(config, None, device="cpu")
    items = texture_items(2)
    params = parse_train_params({"epochs": 1})
    with pytest.raises(InvalidInput, match="at least 2 training images"):
        train(model, train_items=items[:1], val_items=[], params=params, config=config, device="cpu")
    with pytest.raises(InvalidInput, match=r"val_items\[0\]\.label must be a class index from 0 to 2 \(got 7\)"):
        train(model, train_items=items, val_items=[(items[0][0], 7)], params=params, config=config, device="cpu")
    with pytest.raises(InvalidInput, match=r"params\.batch_size: 1 cannot train"):
        train(
            model,
            train_items=items,
            val_items=[],
            params=parse_train_params({"batch_size": 1}),
            config=config,
            device="cpu",
        )


def test_no_validation_items_means_no_early_stop() -> None:
    config = small_config(3, input_size=32)
    model = build_classifier(config, None, device="cpu")
    result = train(
        model,
        train_items=texture_items(3),
        val_items=[],
        params=parse_train_params({"epochs": 1, "batch_size": 4, "target_accuracy": 0.0}),
        config=config,
        device="cpu",
    )
    assert result.history[0]["val_accuracy"] is None and result.history[0]["val_loss"] is None
    assert not result.stopped_early and result.epochs_run == 1
    assert result.best_epoch is None and result.best_val_accuracy is None
