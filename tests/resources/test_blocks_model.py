"""resources.classifier.blocks.model: the torch model matches the inferred shapes; seeded init; weight files."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import TypeAdapter
from safetensors.torch import save_file
from torch import nn

from commons.errors import InvalidInput, InvalidWeights
from resources.classifier.blocks.layer_types import Block
from resources.classifier.blocks.model import (
    BlockStack,
    block_units,
    build_blocks_model,
    check_blocks_weights_file,
)
from resources.classifier.blocks.shapes import infer_shapes
from resources.classifier.blocks.spec import parse_blocks_config
from resources.classifier.resnet.model import save_weights
from tests.resources.test_blocks_spec import FLAT, LENET, POOLS, conv, linear, pool, stack

CONFIGS: dict[str, dict[str, Any]] = {
    "lenet": stack(LENET),
    "mlp": stack(
        [
            FLAT,
            linear(192, 32),
            {"type": "BatchNorm1d", "num_features": 32, "eps": 1e-3, "momentum": 0.2},
            {"type": "LeakyReLU", "negative_slope": 0.1},
            {"type": "Dropout", "p": 0.2},
            linear(32, 4, bias=False),
            {"type": "Softmax"},
        ],
        channels=3,
        size=8,
    ),
    "pools": stack(POOLS, channels=3, size=30),
    "dilation": stack(
        [conv(2, 4, 3, dilation=3, padding=1), {"type": "Sigmoid"}, pool(3, stride=2), FLAT, FLAT, linear(100, 3)],
        channels=2,
        size=16,
    ),
}


def _same(a: nn.Module, b: nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


@pytest.mark.parametrize("name", CONFIGS)
def test_torch_shapes_and_parameters_match_inference(name: str) -> None:
    config = parse_blocks_config(CONFIGS[name])
    model = build_blocks_model(config, None, device="cpu")
    assert isinstance(model, BlockStack) and isinstance(model, nn.Sequential)
    assert [child for child, _ in model.named_children()] == [str(i) for i in range(len(config.blocks))]
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    inferred = infer_shapes(input_channels=config.input_channels, input_size=config.input_size, blocks=config.blocks)
    x = torch.zeros(2, *config.input_shape)
    with torch.no_grad():
        for module, expected in zip(model, inferred, strict=True):
            x = module(x)
            assert tuple(x.shape) == (2, *expected.output_shape), f"block {expected.index} {expected.type}"
            assert sum(p.numel() for p in module.parameters()) == expected.parameters
            assert type(module).__name__ == expected.type
    assert tuple(x.shape) == (2, config.num_outputs)


def test_module_arguments_follow_the_blocks() -> None:
    model = build_blocks_model(parse_blocks_config(CONFIGS["mlp"]), None, device="cpu")
    norm, leaky, dropout, softmax = model[2], model[3], model[4], model[6]
    assert isinstance(norm, nn.BatchNorm1d) and (norm.eps, norm.momentum) == (1e-3, 0.2)
    assert isinstance(leaky, nn.LeakyReLU) and leaky.negative_slope == 0.1
    assert isinstance(dropout, nn.Dropout) and dropout.p == 0.2
    assert isinstance(softmax, nn.Softmax) and softmax.dim == 1
    assert model[5].bias is None
    pools = build_blocks_model(parse_blocks_config(CONFIGS["pools"]), None, device="cpu")
    assert isinstance(pools[3], nn.MaxPool2d) and (pools[3].stride, pools[3].padding) == (2, 1)
    assert isinstance(pools[5], nn.AvgPool2d) and pools[5].stride == 2  # stride None → kernel_size, as in torch
    assert isinstance(model[0], nn.Flatten) and model[0].start_dim == 1


def _torch_window(block: dict[str, Any]) -> nn.Module:
    """The torch module of a Conv2d/pool block dict, written here independently of blocks_model."""
    if block["type"] == "Conv2d":
        return nn.Conv2d(
            block["in_channels"],
            block["out_channels"],
            block["kernel_size"],
            stride=block["stride"],
            padding=block["padding"],
            dilation=block["dilation"],
        )
    kind = nn.MaxPool2d if block["type"] == "MaxPool2d" else nn.AvgPool2d
    return kind(block["kernel_size"], stride=block["stride"], padding=block["padding"])


def test_shape_inference_agrees_with_torch_on_random_windows() -> None:
    """Conv2d and pools over many sizes: inference succeeds exactly when torch runs, with torch's shape."""
    rng = random.Random(0)
    adapter = TypeAdapter(list[Block])
    outcomes = set()
    for _ in range(300):
        size = rng.randint(8, 14)
        kind = rng.choice(["Conv2d", "MaxPool2d", "AvgPool2d"])
        kernel = rng.randint(1, 11)
        if kind == "Conv2d":
            block = conv(2, 3, kernel, stride=rng.randint(1, 4), padding=rng.randint(0, 3), dilation=rng.randint(1, 3))
        else:
            block = pool(kernel, kind, stride=rng.choice([None, 1, 2, 3]), padding=rng.randint(0, kernel // 2 + 1))
        blocks = adapter.validate_python([block])
        try:
            with torch.no_grad():
                expected: tuple[int, ...] | None = tuple(_torch_window(block)(torch.zeros(1, 2, size, size)).shape[1:])
        except RuntimeError:
            expected = None
        try:
            got: tuple[int, ...] | None = infer_shapes(input_channels=2, input_size=size, blocks=blocks)[0].output_shape
        except InvalidInput:
            got = None
        assert got == expected, (block, size)
        outcomes.add(got is None)
    assert outcomes == {True, False}


def test_random_init_is_seeded_and_leaves_global_rng_alone() -> None:
    config = parse_blocks_config(CONFIGS["pools"])
    before = torch.get_rng_state()
    first = build_blocks_model(config, None, device="cpu")
    assert torch.equal(torch.get_rng_state(), before)
    again = build_blocks_model(config, None, device="cpu")
    other = build_blocks_model(config.model_copy(update={"init_seed": 1}), None, device="cpu")
    assert _same(first, again)
    assert not torch.equal(first.state_dict()["0.weight"], other.state_dict()["0.weight"])


def test_weights_round_trip(tmp_path: Path) -> None:
    config = parse_blocks_config(CONFIGS["pools"])
    model = build_blocks_model(config, None, device="cpu")
    state = model.state_dict()  # shares storage with the model
    state["1.running_mean"].add_(0.5)  # buffers travel too
    state["1.num_batches_tracked"].fill_(7)
    path = tmp_path / "w.safetensors"
    save_weights(model, path=path)
    check_blocks_weights_file(path, config=config)
    loaded = build_blocks_model(config, path, device="cpu")
    assert _same(model, loaded)
    assert not loaded.training
    assert loaded.state_dict()["1.num_batches_tracked"].dtype == torch.int64
    assert int(loaded.state_dict()["1.num_batches_tracked"]) == 7
    x = torch.rand(2, *config.input_shape)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    pth = tmp_path / "w.pth"
    torch.save(model.state_dict(), pth)
    assert _same(model, build_blocks_model(config, pth, device="cpu"))


def test_mismatched_weights_are_refused_with_the_tensors_named(tmp_path: Path) -> None:
    config = parse_blocks_config(CONFIGS["pools"])
    path = tmp_path / "w.safetensors"
    save_weights(build_blocks_model(config, None, device="cpu"), path=path)
    raw = CONFIGS["pools"]
    wider = parse_blocks_config({**raw, "blocks": [*raw["blocks"][:-1], linear(128, 5)]})
    message = (
        "w.safetensors does not fit the config (2 wrong shape: 7.bias is [2] but the config needs [5], 7.weight is "
        "[2, 128] but the config needs [5, 128]); check that config.json's blocks (each block's parameters, in "
        "order) describe these weights"
    )
    for attempt in (
        lambda: build_blocks_model(wider, path, device="cpu"),
        lambda: check_blocks_weights_file(path, config=wider),
    ):
        with pytest.raises(InvalidWeights) as caught:
            attempt()
        assert (caught.value.message, caught.value.field) == (message, "weights")
    biased = parse_blocks_config({**raw, "blocks": [conv(3, 8, 5, stride=2, padding=2), *raw["blocks"][1:]]})
    with pytest.raises(InvalidWeights, match=r"1 missing: 0\.bias"):
        check_blocks_weights_file(path, config=biased)


def test_integer_tensor_where_floats_belong_is_refused(tmp_path: Path) -> None:
    config = parse_blocks_config(CONFIGS["lenet"])
    state = build_blocks_model(config, None, device="cpu").state_dict()
    state["7.bias"] = torch.zeros(10, dtype=torch.int32)
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    with pytest.raises(InvalidWeights, match=r"tensor 7\.bias has dtype torch\.int32; the model needs floating point"):
        build_blocks_model(config, path, device="cpu")


def test_units_share_the_modules_and_compose_to_the_model() -> None:
    config = parse_blocks_config(CONFIGS["lenet"])
    model = build_blocks_model(config, None, device="cpu")
    units = block_units(model, config)
    assert [name for name, _ in units] == ["block1", "block4", "block8"]
    first = units[0][1]
    assert isinstance(first, nn.Sequential) and first[0] is model[0]
    assert list(units[1][1].state_dict()) == ["3.weight", "3.bias"]
    x = torch.rand(2, *config.input_shape)
    with torch.no_grad():
        out = x
        for _, unit in units:
            out = unit(out)
        assert torch.equal(out, model(x))


def test_a_cnn_from_blocks_learns_the_ten_digits_on_the_cpu() -> None:
    """All ten handwritten digits, 8x8 grey: a two-conv CNN from blocks, trained from scratch for a few
    epochs, is far above chance (10 %) on digits it did not train on; the same seed gives the same weights."""
    from resources.classifier.config import TrainParams
    from resources.classifier.evaluate import evaluate
    from resources.classifier.train import train
    from tests.resources.test_classifier_data import digit_items

    config = parse_blocks_config(
        {
            "input_channels": 1,
            "input_size": 8,
            "classes": [str(digit) for digit in range(10)],
            "init_seed": 4,
            "blocks": [
                conv(1, 16, 3, padding=1),
                {"type": "BatchNorm2d", "num_features": 16},
                {"type": "ReLU"},
                conv(16, 32, 3, padding=1),
                {"type": "ReLU"},
                pool(2),
                FLAT,
                {"type": "Dropout", "p": 0.2},
                linear(32 * 4 * 4, 10),
            ],
        }
    )
    train_items = digit_items(10, 40, size=8)
    test_items = digit_items(10, 20, skip=40, size=8)
    params = TrainParams(epochs=8, batch_size=32, lr=0.01, seed=3, target_accuracy=None)
    weights = []
    for _ in range(2):
        model = build_blocks_model(config, None, device="cpu")
        result = train(model, train_items=train_items, val_items=[], params=params, config=config, device="cpu")
        assert result.epochs_run == 8 and result.history[-1]["train_loss"] < result.history[0]["train_loss"]
        weights.append({name: tensor.clone() for name, tensor in model.state_dict().items()})
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
    measured = evaluate(model, items=test_items, config=config, device="cpu", batch_size=64)
    assert measured["count"] == 200
    assert measured["accuracy"] > 0.6, measured["accuracy"]
