"""resources.classifier.config: configs and parameters are validated with messages that name the field."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from commons.errors import InvalidInput
from resources.classifier.config import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    parse_classifier_config,
    parse_eval_params,
    parse_predict_params,
    parse_train_params,
)

ROOT = Path(__file__).resolve().parents[2]
BASE = {"arch": "resnet18", "classes": ["cat", "dog"]}


def test_importing_config_does_not_import_torch() -> None:
    code = "import sys, resources.classifier.config; sys.exit(1 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=False).returncode == 0


def test_config_defaults() -> None:
    config = parse_classifier_config(BASE)
    assert config.input_size == 224
    assert config.mean == IMAGENET_MEAN
    assert config.std == IMAGENET_STD
    assert config.checkpoint is None
    assert config.init_seed == 0


def test_full_config() -> None:
    raw = {
        **BASE,
        "arch": "resnet50",
        "input_size": 32,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 1],
        "checkpoint": "weights.safetensors",
        "init_seed": 7,
    }
    config = parse_classifier_config(raw)
    assert (config.arch, config.std, config.checkpoint) == ("resnet50", (0.25, 0.25, 1.0), "weights.safetensors")


def test_param_defaults() -> None:
    params = parse_train_params({})
    assert (params.epochs, params.batch_size, params.lr, params.optimizer) == (50, 32, 1e-3, "adam")
    assert (params.target_accuracy, params.val_fraction, params.seed, params.augment) == (0.9, 0.2, 0, [])
    assert (params.freeze_backbone, params.num_workers, params.publish_as, params.momentum) == (False, 0, None, 0.9)
    assert parse_eval_params({}).batch_size == 64
    assert (parse_predict_params({}).top_k, parse_predict_params({}).batch_size) == (5, 64)


def test_train_params_accept_every_option() -> None:
    params = parse_train_params(
        {
            "epochs": 3,
            "optimizer": "sgd",
            "momentum": 0.5,
            "target_accuracy": None,
            "augment": ["rotate", "blur", "flip", "flop", "blur"],
            "freeze_backbone": True,
            "publish_as": "my-digits-2",
            "lr": 1,
        }
    )
    assert params.augment == ["rotate", "blur", "flip", "flop"]
    assert params.target_accuracy is None
    assert params.lr == 1.0


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"arch": "vgg16"}, "config.arch", "config.arch: must be 'resnet18', 'resnet34' or 'resnet50' (got 'vgg16')"),
        ({"classes": ["cat"]}, "config.classes", "config.classes: must have at least 2 item(s) (got 1)"),
        ({"classes": [str(i) for i in range(1001)]}, "config.classes", "must have at most 1000 items (got 1001)"),
        ({"classes": ["cat", "cat"]}, "config.classes[1]", "config.classes[1]: repeats 'cat' (also classes[0])"),
        ({"classes": ["cat", ""]}, "config.classes[1]", "config.classes[1]: must have at least 1 character(s)"),
        ({"classes": ["cat", "  "]}, "config.classes[1]", "config.classes[1]: must not be blank"),
        ({"classes": ["cat", "x" * 101]}, "config.classes[1]", "config.classes[1]: must have at most 100 characters"),
        ({"classes": ["cat", 3]}, "config.classes[1]", "config.classes[1]: must be a string (got 3)"),
        ({"input_size": 8}, "config.input_size", "config.input_size: must be ≥ 16 (got 8)"),
        ({"input_size": 2048}, "config.input_size", "config.input_size: must be ≤ 1024 (got 2048)"),
        ({"input_size": "32"}, "config.input_size", "config.input_size: must be an integer (got '32')"),
        ({"std": [0.2, 0, 0.2]}, "config.std[1]", "config.std[1]: must be > 0 (got 0)"),
        ({"mean": [0.5, 0.5, 2]}, "config.mean[2]", "config.mean[2]: must be ≤ 1 (got 2)"),
        ({"checkpoint": "../w.pth"}, "config.checkpoint", "config.checkpoint: must be a plain file name"),
        ({"checkpoint": "w.bin"}, "config.checkpoint", "config.checkpoint: must end in .safetensors, .pth or .pt"),
        ({"init_seed": -1}, "config.init_seed", "config.init_seed: must be ≥ 0 (got -1)"),
        ({"colour": "red"}, "config.colour", "config.colour: is not a known field; check the spelling"),
    ],
)
def test_config_errors(raw: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_classifier_config({**BASE, **raw})
    assert caught.value.field == field
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"epochs": 0}, "params.epochs", "params.epochs: must be ≥ 1 (got 0)"),
        ({"epochs": 1001}, "params.epochs", "params.epochs: must be ≤ 1000 (got 1001)"),
        ({"epochs": True}, "params.epochs", "params.epochs: must be an integer (got True)"),
        ({"batch_size": 0}, "params.batch_size", "params.batch_size: must be ≥ 1 (got 0)"),
        ({"lr": 0}, "params.lr", "params.lr: must be > 0 (got 0)"),
        ({"lr": 11}, "params.lr", "params.lr: must be ≤ 10 (got 11)"),
        ({"optimizer": "rmsprop"}, "params.optimizer", "params.optimizer: must be 'adam', 'adamw' or 'sgd'"),
        ({"momentum": 1.0}, "params.momentum", "params.momentum: must be < 1 (got 1.0)"),
        ({"target_accuracy": 1.5}, "params.target_accuracy", "params.target_accuracy: must be ≤ 1 (got 1.5)"),
        ({"val_fraction": 0}, "params.val_fraction", "params.val_fraction: must be > 0 (got 0)"),
        ({"val_fraction": 1}, "params.val_fraction", "params.val_fraction: must be < 1 (got 1)"),
        ({"seed": -1}, "params.seed", "params.seed: must be ≥ 0 (got -1)"),
        ({"augment": ["spin"]}, "params.augment[0]", "params.augment[0]: must be 'rotate', 'blur', 'flip' or 'flop'"),
        ({"num_workers": 17}, "params.num_workers", "params.num_workers: must be ≤ 16 (got 17)"),
        ({"publish_as": "My_Model"}, "params.publish_as", "params.publish_as: must be a resource slug"),
        ({"publish_as": "-x"}, "params.publish_as", "params.publish_as: must be a resource slug"),
        ({"publish_as": "a" * 65}, "params.publish_as", "params.publish_as: must be a resource slug"),
        ({"freeze_backbone": "yes"}, "params.freeze_backbone", "params.freeze_backbone: must be true or false"),
        ({"epoch": 3}, "params.epoch", "params.epoch: is not a known field"),
    ],
)
def test_train_param_errors(raw: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_train_params(raw)
    assert caught.value.field == field
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("parse", "raw", "message"),
    [
        (parse_predict_params, {"top_k": 0}, "params.top_k: must be ≥ 1 (got 0)"),
        (parse_predict_params, {"top_k": 101}, "params.top_k: must be ≤ 100 (got 101)"),
        (parse_predict_params, {"batch_size": 2000}, "params.batch_size: must be ≤ 1024 (got 2000)"),
        (parse_eval_params, {"batch_size": 0}, "params.batch_size: must be ≥ 1 (got 0)"),
        (parse_eval_params, {"top_k": 3}, "params.top_k: is not a known field"),
        (parse_eval_params, [1, 2], "params must be a JSON object (got list)"),
    ],
)
def test_eval_and_predict_param_errors(parse: Any, raw: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse(raw)
