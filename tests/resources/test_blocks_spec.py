"""resources.classifier.blocks.spec: block stacks are validated, shapes inferred, mistakes explained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from commons.errors import InvalidInput
from resources.classifier.blocks.catalog import catalog, validation_report
from resources.classifier.blocks.layer_types import BLOCK_MODELS, BLOCK_TYPES, Flatten, Linear
from resources.classifier.blocks.shapes import BlockShape, infer_shapes
from resources.classifier.blocks.spec import (
    BlocksConfig,
    check_dataset_classes,
    parse_blocks_config,
    unit_names_for_blocks,
    unit_spans,
)
from resources.classifier.config import IMAGENET_MEAN, IMAGENET_STD

ROOT = Path(__file__).resolve().parents[2]


def conv(cin: int, cout: int, k: int, **extra: Any) -> dict[str, Any]:
    return {"type": "Conv2d", "in_channels": cin, "out_channels": cout, "kernel_size": k, **extra}


def linear(fin: int, fout: int, **extra: Any) -> dict[str, Any]:
    return {"type": "Linear", "in_features": fin, "out_features": fout, **extra}


def pool(k: int, kind: str = "MaxPool2d", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "kernel_size": k, **extra}


RELU = {"type": "ReLU"}
FLAT = {"type": "Flatten"}

# 1x28x28 → 16x28x28 → 16x14x14 → 32x14x14 → 32x7x7 → 1568 → 10
LENET = [conv(1, 16, 3, padding=1), RELU, pool(2), conv(16, 32, 3, padding=1), RELU, pool(2), FLAT, linear(1568, 10)]
# 3x30x30 → 8x15x15 (three times) → 8x8x8 (twice) → 8x4x4 → 128 → 2: strides, padding, both pool kinds
POOLS = [
    conv(3, 8, 5, stride=2, padding=2, bias=False),
    {"type": "BatchNorm2d", "num_features": 8},
    {"type": "Tanh"},
    pool(3, stride=2, padding=1),
    pool(3, "AvgPool2d", stride=1, padding=1),
    pool(2, "AvgPool2d"),
    FLAT,
    linear(8 * 4 * 4, 2),
]


def stack(blocks: list[dict[str, Any]], *, channels: int = 1, size: int = 28, **extra: Any) -> dict[str, Any]:
    return {"input_channels": channels, "input_size": size, "blocks": blocks, **extra}


def test_importing_blocks_spec_does_not_import_torch() -> None:
    code = "import sys, resources.classifier.blocks.spec; sys.exit(1 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=False).returncode == 0


def test_block_types_are_the_thirteen_in_order() -> None:
    assert BLOCK_TYPES == (
        "Linear",
        "Conv2d",
        "MaxPool2d",
        "AvgPool2d",
        "BatchNorm1d",
        "BatchNorm2d",
        "Dropout",
        "Flatten",
        "ReLU",
        "LeakyReLU",
        "Sigmoid",
        "Tanh",
        "Softmax",
    )
    assert set(BLOCK_MODELS) == set(BLOCK_TYPES)


def test_defaults_fill_classes_and_normalisation() -> None:
    config = parse_blocks_config(stack(LENET))
    assert config.classes == [f"class {i}" for i in range(10)]
    assert config.num_outputs == 10
    assert (config.mean, config.std) == ((0.5,), (0.5,))
    assert (config.checkpoint, config.init_seed, config.quantization) == (None, 0, None)
    assert config.input_shape == (1, 28, 28)
    rgb = parse_blocks_config({"blocks": [FLAT, linear(3 * 28 * 28, 2)]})
    assert (rgb.input_channels, rgb.input_size, rgb.mean, rgb.std) == (3, 28, IMAGENET_MEAN, IMAGENET_STD)
    two = parse_blocks_config(stack([FLAT, linear(2 * 64, 2)], channels=2, size=8))
    assert (two.mean, two.std) == ((0.5, 0.5), (0.5, 0.5))
    again = parse_blocks_config(config.model_dump())
    assert again == config
    built = BlocksConfig(blocks=[Flatten(), Linear(in_features=3 * 28 * 28, out_features=2)])
    assert built.class_names == ["class 0", "class 1"]
    assert built.model_dump(exclude_unset=True)["classes"] == ["class 0", "class 1"]


def test_given_classes_and_normalisation_are_kept() -> None:
    raw = stack([*LENET[:-1], linear(1568, 3)], classes=["a", "b", "c"], mean=[0.1], std=[0.2], checkpoint="w.pt")
    config = parse_blocks_config(raw)
    assert (config.classes, config.mean, config.std, config.checkpoint) == (["a", "b", "c"], (0.1,), (0.2,), "w.pt")


# (blocks, input_channels, input_size, expected shapes, total parameters)
VALID: list[tuple[str, list[dict[str, Any]], int, int, list[tuple[int, ...]], int]] = [
    (
        "lenet",
        LENET,
        1,
        28,
        [(16, 28, 28), (16, 28, 28), (16, 14, 14), (32, 14, 14), (32, 14, 14), (32, 7, 7), (1568,), (10,)],
        160 + 4640 + 15690,
    ),
    (
        "mlp",
        [
            FLAT,
            linear(192, 32),
            {"type": "BatchNorm1d", "num_features": 32},
            {"type": "LeakyReLU", "negative_slope": 0.1},
            {"type": "Dropout", "p": 0.2},
            linear(32, 4, bias=False),
            {"type": "Softmax"},
        ],
        3,
        8,
        [(192,), (32,), (32,), (32,), (32,), (4,), (4,)],
        192 * 32 + 32 + 64 + 128,
    ),
    (
        "pools with stride and padding",
        POOLS,
        3,
        30,
        [(8, 15, 15), (8, 15, 15), (8, 15, 15), (8, 8, 8), (8, 8, 8), (8, 4, 4), (128,), (2,)],
        8 * 3 * 25 + 16 + 128 * 2 + 2,
    ),
    (
        "dilation",
        [conv(2, 4, 3, dilation=3), {"type": "Sigmoid"}, FLAT, FLAT, linear(4 * 10 * 10, 3)],
        2,
        16,
        [(4, 10, 10), (4, 10, 10), (400,), (400,), (3,)],
        4 * 2 * 9 + 4 + 400 * 3 + 3,
    ),
]


@pytest.mark.parametrize(
    ("blocks", "channels", "size", "shapes", "total"), [v[1:] for v in VALID], ids=[v[0] for v in VALID]
)
def test_valid_stacks_shapes_and_parameters(
    blocks: list[dict[str, Any]], channels: int, size: int, shapes: list[tuple[int, ...]], total: int
) -> None:
    config = parse_blocks_config(stack(blocks, channels=channels, size=size))
    inferred = infer_shapes(input_channels=channels, input_size=size, blocks=config.blocks)
    assert [s.output_shape for s in inferred] == shapes
    assert [s.index for s in inferred] == list(range(1, len(blocks) + 1))
    assert [s.type for s in inferred] == [b["type"] for b in blocks]
    assert sum(s.parameters for s in inferred) == total
    assert config.num_outputs == shapes[-1][0]


def test_block_shape_record() -> None:
    config = parse_blocks_config(stack(LENET))
    first = infer_shapes(input_channels=1, input_size=28, blocks=config.blocks)[0]
    assert first == BlockShape(index=1, type="Conv2d", output_shape=(16, 28, 28), parameters=160)


BIG_INPUT = stack([conv(3, 4096, 1), conv(4096, 4096, 7), FLAT, linear(4096 * 2 * 2, 2)], channels=3, size=8)

# (id, raw config, expected field, expected message)
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "conv channels",
        stack([conv(1, 16, 3), conv(16, 16, 3), conv(3, 8, 3), FLAT, linear(8 * 22 * 22, 2)]),
        "config.blocks[2]",
        "block 3 Conv2d expects 3 input channels, block 2 Conv2d gives 16",
    ),
    (
        "conv channels at the input",
        stack([conv(3, 16, 3), FLAT, linear(16 * 26 * 26, 2)]),
        "config.blocks[0]",
        "block 1 Conv2d expects 3 input channels, the input gives 1",
    ),
    (
        "linear in_features",
        stack([conv(1, 2, 1), RELU, RELU, FLAT, linear(784, 10)]),
        "config.blocks[4]",
        "block 5 Linear expects 784 inputs, block 4 Flatten gives 1568",
    ),
    (
        "batchnorm2d channels",
        stack([conv(1, 16, 3), {"type": "BatchNorm2d", "num_features": 8}, FLAT, linear(16 * 26 * 26, 2)]),
        "config.blocks[1]",
        "block 2 BatchNorm2d expects 8 channels, block 1 Conv2d gives 16",
    ),
    (
        "batchnorm1d features",
        stack([FLAT, linear(784, 32), {"type": "BatchNorm1d", "num_features": 64}, linear(32, 2)]),
        "config.blocks[2]",
        "block 3 BatchNorm1d expects 64 features, block 2 Linear gives 32",
    ),
    (
        "conv after flatten",
        stack([conv(1, 2, 1), RELU, FLAT, conv(2, 4, 3), FLAT, linear(10, 2)]),
        "config.blocks[3]",
        "block 4 Conv2d needs an image-shaped input (channels x height x width), block 3 Flatten gives 1568 "
        "features; put Conv2d blocks before the Flatten",
    ),
    (
        "pool after flatten",
        stack([FLAT, pool(2), linear(784, 2)]),
        "config.blocks[1]",
        "block 2 MaxPool2d needs an image-shaped input (channels x height x width), block 1 Flatten gives 784 "
        "features; put MaxPool2d blocks before the Flatten",
    ),
    (
        "linear on an image",
        stack([conv(1, 16, 3, padding=1), RELU, pool(4), linear(784, 10)]),
        "config.blocks[3]",
        "block 4 Linear needs flat features, block 3 MaxPool2d gives 16x7x7; add a Flatten block before it",
    ),
    (
        "linear on the input",
        stack([linear(784, 10)]),
        "config.blocks[0]",
        "block 1 Linear needs flat features, the input gives 1x28x28; add a Flatten block before it",
    ),
    (
        "batchnorm1d on an image",
        stack([{"type": "BatchNorm1d", "num_features": 1}, FLAT, linear(784, 2)]),
        "config.blocks[0]",
        "block 1 BatchNorm1d needs flat features, the input gives 1x28x28; add a Flatten block before it",
    ),
    (
        "pool window too big",
        stack([conv(1, 4, 7), RELU, pool(3), FLAT, linear(4, 2)], size=8),
        "config.blocks[2]",
        "block 3 MaxPool2d: its 3x3 window does not fit the 2x2 input from block 2 ReLU (the output would be "
        "0x0); use a smaller kernel_size, add padding, or remove a pooling block",
    ),
    (
        "conv window too big for the image",
        stack([conv(1, 4, 9), FLAT, linear(4, 2)], size=8),
        "config.blocks[0]",
        "block 1 Conv2d: its 9x9 window does not fit the 8x8 input image (the output would be 0x0); use a "
        "smaller kernel_size, add padding, or remove a pooling block",
    ),
    (
        "dilated window too big",
        stack([pool(2, "AvgPool2d"), conv(1, 4, 3, dilation=3), FLAT, linear(4, 2)], size=12),
        "config.blocks[1]",
        "block 2 Conv2d: its 7x7 window (kernel_size 3, dilation 3) does not fit the 6x6 input from block 1 "
        "AvgPool2d (the output would be 0x0); use a smaller kernel_size or dilation, add padding, or remove a "
        "pooling block",
    ),
    (
        "pool padding",
        stack([conv(1, 4, 3), RELU, pool(2, padding=2), FLAT, linear(4 * 15 * 15, 2)]),
        "config.blocks[2]",
        "block 3 MaxPool2d: padding 2 is more than half of kernel_size 2; use padding ≤ 1",
    ),
    (
        "not flat at the end",
        stack([conv(1, 16, 3, padding=1), RELU, pool(4)]),
        "config.blocks[2]",
        "the last block (block 3 MaxPool2d) gives 16x7x7; a classifier must end with flat features, one per "
        "class: add a Flatten and a Linear",
    ),
    (
        "one output",
        stack([FLAT, linear(784, 1)]),
        "config.blocks[1]",
        "the model gives 1 output; a classifier needs at least 2 classes: make the last block give one output "
        "per class",
    ),
    (
        "too many outputs",
        stack([FLAT, linear(784, 1001)]),
        "config.blocks[1]",
        "the model gives 1001 outputs; a classifier has at most 1000 classes",
    ),
    (
        "class count",
        stack([FLAT, linear(784, 8), RELU, linear(8, 4), RELU, {"type": "Dropout"}, linear(4, 2)], classes=list("abc")),
        "config.classes",
        "config.classes names 3 classes but the last block (block 7 Linear) gives 2 outputs; name one class per output",
    ),
    (
        "too many parameters",
        BIG_INPUT,
        "config.blocks",
        "the blocks have 822,136,834 parameters; at most 100,000,000 are allowed: use fewer or smaller Linear "
        "and Conv2d blocks (or pool the image before the first Linear)",
    ),
    (
        "parameter out of range",
        stack([conv(1, 4, 3), RELU, pool(0), FLAT, linear(4, 2)]),
        "config.blocks[2].kernel_size",
        "config.blocks[2].kernel_size: must be ≥ 1 (got 0)",
    ),
    (
        "dropout p",
        stack([FLAT, {"type": "Dropout", "p": 1}, linear(784, 2)]),
        "config.blocks[1].p",
        "config.blocks[1].p: must be < 1 (got 1)",
    ),
    (
        "missing parameter",
        stack([{"type": "Conv2d", "in_channels": 1, "out_channels": 4}, FLAT, linear(4 * 28 * 28, 2)]),
        "config.blocks[0].kernel_size",
        "config.blocks[0].kernel_size: is required",
    ),
    (
        "unknown parameter",
        stack([{"type": "Flatten", "start_dim": 0}, linear(784, 2)]),
        "config.blocks[0].start_dim",
        "config.blocks[0].start_dim: is not a known field; check the spelling or leave it out",
    ),
    (
        "strict integer",
        stack([FLAT, linear(784, "2")]),  # type: ignore[arg-type]
        "config.blocks[1].out_features",
        "config.blocks[1].out_features: must be an integer (got '2')",
    ),
    (
        "unknown type",
        stack([{"type": "Conv3d"}, FLAT, linear(784, 2)]),
        "config.blocks[0].type",
        "config.blocks[0].type: is not a block type (got 'Conv3d'); use one of Linear, Conv2d, MaxPool2d, "
        "AvgPool2d, BatchNorm1d, BatchNorm2d, Dropout, Flatten, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax",
    ),
    (
        "type in the wrong case",
        stack([FLAT, {"type": "linear", "in_features": 784, "out_features": 2}]),
        "config.blocks[1].type",
        "config.blocks[1].type: is not a block type (got 'linear'); did you mean 'Linear'?",
    ),
    (
        "missing type",
        stack([{"kernel_size": 3}, FLAT, linear(784, 2)]),
        "config.blocks[0].type",
        "config.blocks[0].type: is required: one of Linear, Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d, "
        "BatchNorm2d, Dropout, Flatten, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax",
    ),
    (
        "block not an object",
        stack([FLAT, 7, linear(784, 2)]),  # type: ignore[list-item]
        "config.blocks[1]",
        "config.blocks[1]: must be an object (got 7)",
    ),
    ("no blocks", stack([]), "config.blocks", "config.blocks: must have at least 1 item(s) (got 0)"),
    (
        "mean per channel",
        stack([FLAT, linear(784, 2)], mean=[0.5, 0.5, 0.5]),
        "config.mean",
        "config.mean: needs one value per input channel (1), got 3",
    ),
    (
        "duplicate class",
        stack([FLAT, linear(784, 2)], classes=["cat", "cat"]),
        "config.classes[1]",
        "config.classes[1]: repeats 'cat' (also classes[0]); class names must be unique",
    ),
    (
        "input size",
        stack([FLAT, linear(784, 2)], size=4),
        "config.input_size",
        "config.input_size: must be ≥ 8 (got 4)",
    ),
    (
        "checkpoint name",
        stack([FLAT, linear(784, 2)], checkpoint="../w.safetensors"),
        "config.checkpoint",
        "config.checkpoint: must be a plain file name (letters, digits, '.', '_', '-', no folders), got "
        "'../w.safetensors'",
    ),
]


@pytest.mark.parametrize(("raw", "field", "message"), [v[1:] for v in INVALID], ids=[v[0] for v in INVALID])
def test_invalid_stacks_are_explained(raw: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_blocks_config(raw)
    assert (caught.value.message, caught.value.field) == (message, field)
    report = validation_report(raw)
    assert report["valid"] is False
    assert {"message": message, "field": field} in [
        {"message": e["message"], "field": e["field"]} for e in report["errors"]
    ]


def test_several_pydantic_errors_are_listed() -> None:
    raw = stack([conv(1, 4, 0), {"type": "Dropout", "p": -0.5}, FLAT])
    with pytest.raises(InvalidInput) as caught:
        parse_blocks_config(raw)
    assert caught.value.message == (
        "config.blocks[0].kernel_size: must be ≥ 1 (got 0); config.blocks[1].p: must be ≥ 0 (got -0.5)"
    )
    assert caught.value.field == "config.blocks[0].kernel_size"


def test_infer_shapes_raises_with_block_field() -> None:
    config = parse_blocks_config(stack(LENET))
    with pytest.raises(InvalidInput) as caught:
        infer_shapes(input_channels=3, input_size=28, blocks=config.blocks)
    assert caught.value.field == "config.blocks[0]"
    assert caught.value.message == "block 1 Conv2d expects 1 input channel, the input gives 3"


def test_validation_report_of_a_valid_stack() -> None:
    report = validation_report(stack([*LENET, {"type": "Softmax"}]))
    assert report["valid"] is True
    assert report["errors"] == []
    assert report["input_shape"] == [1, 28, 28]
    assert report["output_shape"] == [10]
    assert report["parameters"] == 160 + 4640 + 15690
    assert report["blocks"][0] == {"index": 1, "type": "Conv2d", "output_shape": [16, 28, 28], "parameters": 160}
    assert [b["output_shape"] for b in report["blocks"]][-3:] == [[1568], [10], [10]]
    assert report["warnings"] == [
        "block 9 Softmax: training applies softmax inside its loss; ending with Softmax makes training slower "
        "and probabilities flatter — remove it"
    ]
    sigmoid = validation_report(stack([*LENET, {"type": "Sigmoid"}]))
    assert sigmoid["valid"] is True
    assert sigmoid["warnings"][0].startswith("block 9 Sigmoid: ")
    assert validation_report(stack(LENET))["warnings"] == []


def test_validation_report_stops_at_the_failing_block() -> None:
    blocks = [conv(1, 16, 3, padding=1), RELU, pool(2), conv(8, 32, 3), FLAT, linear(10, 2)]
    report = validation_report(stack(blocks))
    assert report["valid"] is False
    assert report["input_shape"] == [1, 28, 28]
    assert [b["output_shape"] for b in report["blocks"]] == [[16, 28, 28], [16, 28, 28], [16, 14, 14]]
    assert report["output_shape"] is None
    assert report["parameters"] == 160
    assert report["errors"] == [
        {
            "message": "block 4 Conv2d expects 8 input channels, block 3 MaxPool2d gives 16",
            "field": "config.blocks[3]",
            "block": 4,
        }
    ]


def test_validation_report_with_other_errors_still_infers_shapes() -> None:
    report = validation_report(stack(LENET, classes=["a", "a"], init_seed=-1))
    assert report["valid"] is False
    assert report["output_shape"] == [10]
    assert len(report["blocks"]) == 8
    assert [(e["field"], e["block"]) for e in report["errors"]] == [
        ("config.classes[1]", None),
        ("config.init_seed", None),
    ]
    broken = validation_report(stack([FLAT, {"type": "Linear", "in_features": 784}]))
    assert broken["blocks"] == [] and broken["input_shape"] is None
    assert broken["errors"] == [
        {"message": "config.blocks[1].out_features: is required", "field": "config.blocks[1].out_features", "block": 2}
    ]


def test_validation_report_of_a_non_object() -> None:
    report = validation_report([1, 2])  # type: ignore[arg-type]
    assert report["valid"] is False
    assert report["errors"] == [
        {"message": "config must be a JSON object (got list)", "field": "config", "block": None}
    ]
    assert (report["blocks"], report["input_shape"], report["parameters"]) == ([], None, 0)


def test_check_dataset_classes() -> None:
    config = parse_blocks_config(stack([FLAT, linear(784, 8), RELU, linear(8, 4), RELU, RELU, linear(4, 2)]))
    check_dataset_classes(config, num_classes=2, dataset_name="digits")
    with pytest.raises(InvalidInput) as caught:
        check_dataset_classes(config, num_classes=10, dataset_name="digits")
    assert caught.value.field == "dataset"
    assert caught.value.message == (
        "the dataset 'digits' has 10 classes but the last Linear (block 7) has 2 outputs; set that block's "
        "out_features to 10"
    )
    softmax = parse_blocks_config(stack([FLAT, linear(784, 2), {"type": "Softmax"}]))
    with pytest.raises(InvalidInput) as caught:
        check_dataset_classes(softmax, num_classes=3, dataset_name="pets")
    assert caught.value.message == (
        "the dataset 'pets' has 3 classes but the last block (block 3 Softmax) gives 2 outputs; set the "
        "out_features of the last Linear (block 2) to 3"
    )
    convs = parse_blocks_config(stack([conv(1, 2, 28), FLAT, RELU], classes=["a", "b"]))
    with pytest.raises(InvalidInput, match="change the blocks so that the model gives 5 outputs"):
        check_dataset_classes(convs, num_classes=5, dataset_name="pets")


def test_units() -> None:
    config = parse_blocks_config(stack(LENET))
    assert unit_spans(config) == [("block1", 0, 3), ("block4", 3, 7), ("block8", 7, 8)]
    assert unit_names_for_blocks(config) == ["block1", "block4", "block8"]
    leading = parse_blocks_config(stack([FLAT, {"type": "Dropout"}, linear(784, 4), RELU, linear(4, 2)]))
    assert unit_spans(leading) == [("block1", 0, 2), ("block3", 2, 4), ("block5", 4, 5)]


def _minimal(model_type: str) -> dict[str, Any]:
    """Required parameters at their minimum: a valid block of that type."""
    entry = next(e for e in catalog() if e["type"] == model_type)
    return {"type": model_type, **{p["name"]: p["minimum"] for p in entry["parameters"] if p["required"]}}


def test_catalog_lists_every_type_with_help() -> None:
    entries = catalog()
    assert [e["type"] for e in entries] == list(BLOCK_TYPES)
    for entry in entries:
        assert entry["help"] and "\n" not in entry["help"]
        for parameter in entry["parameters"]:
            assert parameter["help"] and parameter["type"] in ("integer", "number", "boolean")
    conv_entry = entries[1]
    assert [(p["name"], p["required"]) for p in conv_entry["parameters"]] == [
        ("in_channels", True),
        ("out_channels", True),
        ("kernel_size", True),
        ("stride", False),
        ("padding", False),
        ("dilation", False),
        ("bias", False),
    ]
    stride = next(p for p in entries[2]["parameters"] if p["name"] == "stride")
    assert (stride["default"], stride.get("nullable"), stride["minimum"], stride["maximum"]) == (None, True, 1, 16)
    dropout = entries[6]["parameters"][0]
    assert (dropout["name"], dropout["default"], dropout["minimum"], dropout["exclusive_maximum"]) == ("p", 0.5, 0, 1)
    assert "maximum" not in dropout
    assert [e["parameters"] for e in entries if e["type"] in ("Flatten", "ReLU", "Sigmoid", "Tanh", "Softmax")] == [
        []
    ] * 5


@pytest.mark.parametrize("model_type", BLOCK_TYPES)
def test_catalog_agrees_with_the_models(model_type: str) -> None:
    model = BLOCK_MODELS[model_type]
    entry = next(e for e in catalog() if e["type"] == model_type)
    assert [p["name"] for p in entry["parameters"]] == [n for n in model.model_fields if n != "type"]
    base = _minimal(model_type)
    built = model.model_validate(base)
    for parameter in entry["parameters"]:
        name = parameter["name"]
        assert parameter["required"] == model.model_fields[name].is_required()
        if parameter["required"]:
            with pytest.raises(ValueError, match="Field required"):
                model.model_validate({k: v for k, v in base.items() if k != name})
        else:
            assert getattr(built, name) == parameter["default"] == model.model_fields[name].default
        step = 1 if parameter["type"] == "integer" else 1e-3
        accepted, refused = [], []
        if "minimum" in parameter:
            accepted.append(parameter["minimum"])
            refused.append(parameter["minimum"] - step)
        if "maximum" in parameter:
            accepted.append(parameter["maximum"])
            refused.append(parameter["maximum"] + step)
        if "exclusive_maximum" in parameter:
            accepted.append(parameter["exclusive_maximum"] - step)
            refused.append(parameter["exclusive_maximum"])
        if "exclusive_minimum" in parameter:
            accepted.append(parameter["exclusive_minimum"] + step)
            refused.append(parameter["exclusive_minimum"])
        if parameter["type"] != "boolean":
            assert accepted, f"{model_type}.{name} has no range"
        for value in accepted:
            model.model_validate({**base, name: value})
        for value in refused:
            with pytest.raises(ValueError, match=name):
                model.model_validate({**base, name: value})
