"""resources.classifier.{inspect,weight_edit,graph}: per-unit inspection, weight edits, the model graph.

The model: ResNet-18 with random weights (init_seed 0) at input 64; the image: scikit-image's cat
(`chelsea`); INT8: min-max calibration on that photo, astronaut, coffee and six texture crops. Torch
uses one thread here.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from torchvision.models import ResNet

from commons.errors import InvalidInput
from resources.classifier.config import ClassifierConfig
from resources.classifier.data import normalise, resize
from resources.classifier.int8.compare import cosine_similarity
from resources.classifier.int8.quantize import HYBRID_CONV_ONLY, QuantizedResNet, quantize_int8
from resources.classifier.resnet.graph import model_graph
from resources.classifier.resnet.model import build_classifier
from resources.classifier.tools.inspect import GAP_PX, LayerRecord, feature_map_grid, inspect_layers, write_inspection
from resources.classifier.tools.weight_edit import WeightEdit, apply_weight_edit, changed_tensors, parse_weight_edit
from tests.resources.test_classifier_data import small_config, texture_items

SIZE = 64
UNITS = ["stem", *(f"layer{s}.{i}" for s in range(1, 5) for i in range(2)), "pool", "fc"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def config() -> ClassifierConfig:
    return small_config(3, input_size=SIZE)


@pytest.fixture(scope="module")
def model(config: ClassifierConfig) -> ResNet:
    return build_classifier(config, None, device="cpu")


@pytest.fixture(scope="module")
def image(config: ClassifierConfig) -> torch.Tensor:
    """The cat photo as a 3x64x64 float32 tensor, normalised like training."""
    return normalise(resize(skdata.chelsea(), SIZE), config)


@pytest.fixture(scope="module")
def int8(model: ResNet, config: ClassifierConfig, image: torch.Tensor) -> QuantizedResNet:
    photos = [normalise(resize(photo, SIZE), config) for photo in (skdata.astronaut(), skdata.coffee())]
    crops = [normalise(resize(crop, SIZE), config) for crop, _ in texture_items(2)]
    return quantize_int8(model, [torch.stack([image, *photos, *crops])], method="minmax")


@pytest.fixture(scope="module")
def float_records(model: ResNet, image: torch.Tensor) -> list[LayerRecord]:
    return inspect_layers(model, image)


@pytest.fixture(scope="module")
def int8_records(int8: QuantizedResNet, image: torch.Tensor) -> list[LayerRecord]:
    return inspect_layers(int8, image)


def test_float_and_int8_records_line_up(
    float_records: list[LayerRecord],
    int8_records: list[LayerRecord],
    model: ResNet,
    int8: QuantizedResNet,
    image: torch.Tensor,
) -> None:
    assert [r.name for r in float_records] == [r.name for r in int8_records] == UNITS
    assert [r.index for r in int8_records] == list(range(len(UNITS)))
    for f, q in zip(float_records, int8_records, strict=True):
        assert f.input_shape == q.input_shape and f.output_shape == q.output_shape
        assert f.kind == q.kind and f.precision == "float" and q.precision == "int8"
        assert f.type == f.kind and q.type.startswith(f"{q.kind} [int8: ")
    shapes = [r.output_shape for r in float_records]
    assert shapes[0] == [1, 64, 16, 16] and shapes[-3] == [1, 512, 2, 2] and shapes[-2:] == [[1, 512], [1, 3]]
    assert [r.input_shape for r in float_records] == [[1, 3, SIZE, SIZE], *shapes[:-1]]
    by_name = {r.name: r for r in int8_records}
    assert by_name["layer1.0"].kind == "BasicBlock" and "quantized.add_relu" in by_name["layer1.0"].type
    assert by_name["stem"].kind == "Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d)"
    assert by_name["fc"].type == "Linear [int8: quantized.Linear]"
    # INT8 differs from float, but not by much: per-unit statistics and the final logits
    assert any(f.mean != q.mean for f, q in zip(float_records, int8_records, strict=True))
    for f, q in zip(float_records, int8_records, strict=True):
        assert q.std == pytest.approx(f.std, rel=0.05), f.name
        assert abs(q.mean - f.mean) <= 0.05 * f.std, f.name
    with torch.inference_mode():  # the final unit's outputs (logits); measured 0.994
        assert cosine_similarity(model(image[None]), int8(image[None])) > 0.98


def test_statistics_and_histograms_describe_each_output(
    float_records: list[LayerRecord], int8_records: list[LayerRecord], int8: QuantizedResNet, image: torch.Tensor
) -> None:
    for records, precision in ((float_records, "float"), (int8_records, "int8")):
        outputs = int8.unit_outputs(image[None], precision)  # type: ignore[arg-type]
        for record, out in zip(records, outputs, strict=True):
            values = out.double()
            assert record.min == pytest.approx(float(values.min()), abs=1e-6)
            assert record.max == pytest.approx(float(values.max()), abs=1e-6)
            assert record.mean == pytest.approx(float(values.mean()), rel=1e-6, abs=1e-9)
            assert record.std == pytest.approx(float(values.std(unbiased=False)), rel=1e-6)
            assert record.nonfinite == 0
            assert len(record.histogram_counts) == 32 and len(record.histogram_edges) == 33
            assert sum(record.histogram_counts) == out.numel()
            assert record.histogram_edges[0] == record.min and record.histogram_edges[-1] == record.max


def test_feature_maps_are_drawn_as_a_near_square_grid(
    float_records: list[LayerRecord], model: ResNet, image: torch.Tensor
) -> None:
    for record in float_records:
        if len(record.output_shape) == 2:
            assert record.maps_png is None and record.maps_grid is None and record.png_name is None
            continue
        assert record.maps_png is not None and record.maps_grid is not None
        grid = record.maps_grid
        picture = Image.open(io.BytesIO(record.maps_png))
        assert picture.format == "PNG" and picture.mode == "L" and picture.size == grid.size
        assert (grid.count, grid.rows, grid.cols) == (16, 4, 4)
        height, width = record.output_shape[2:]
        assert grid.cell == (height * grid.scale, width * grid.scale) and min(grid.cell) >= 32
        assert picture.size == (4 * grid.cell[1] + 3 * GAP_PX, 4 * grid.cell[0] + 3 * GAP_PX)
        assert record.png_name == f"maps/{record.index:02d}-{record.name}.png"
    # the first tile is channel 0 of the stem's output, min-max normalised and enlarged
    with torch.inference_mode():
        stem = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)(image[None])
    png, grid = feature_map_grid(stem, max_maps=5)
    assert (grid.count, grid.rows, grid.cols, grid.scale) == (5, 2, 3, 2)
    pixels = np.asarray(Image.open(io.BytesIO(png)))
    channel = stem[0, 0].double()
    expected = ((channel - channel.min()) / (channel.max() - channel.min()) * 255).round().to(torch.uint8).numpy()
    assert np.array_equal(pixels[: grid.cell[0] : 2, : grid.cell[1] : 2], expected)
    assert (pixels[:, grid.cell[1] : grid.cell[1] + GAP_PX] == 255).all()


def test_write_inspection_saves_json_and_pngs(
    float_records: list[LayerRecord], int8: QuantizedResNet, model: ResNet, image: torch.Tensor, tmp_path: Path
) -> None:
    path = write_inspection(float_records, directory=tmp_path / "float")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == "inspect.json" and set(document) == {"layers", "precision", "input_shape"}
    assert document["precision"] == "float" and document["input_shape"] == [1, 3, SIZE, SIZE]
    assert [layer["name"] for layer in document["layers"]] == UNITS
    for layer, record in zip(document["layers"], float_records, strict=True):
        assert layer == record.as_json()
        assert set(layer["stats"]) == {"min", "max", "mean", "std", "nonfinite"}
        if layer["png"] is None:
            assert layer["maps"] is None
        else:
            assert (path.parent / layer["png"]).read_bytes() == record.maps_png
    assert sorted(p.name for p in (path.parent / "maps").iterdir()) == [
        f"{i:02d}-{name}.png" for i, name in enumerate(UNITS[:-2])
    ]
    assert not list(path.parent.glob(".*partial"))
    hybrid = quantize_int8(model, [image[None]], method="minmax", keep_float=HYBRID_CONV_ONLY)
    records = inspect_layers(hybrid, image)
    assert [r.precision for r in records] == ["int8"] * 9 + ["float", "float"]
    assert records[-1].type == "Linear"
    saved = json.loads(write_inspection(records, directory=tmp_path / "hybrid").read_text(encoding="utf-8"))
    assert saved["precision"] == "hybrid"


def test_inspect_refuses_bad_requests(model: ResNet, image: torch.Tensor) -> None:
    with pytest.raises(InvalidInput, match="one image"):
        inspect_layers(model, torch.stack([image, image]))
    with pytest.raises(InvalidInput, match="Bx3xHxW"):
        inspect_layers(model, image[:1])
    with pytest.raises(InvalidInput, match="histogram_bins"):
        inspect_layers(model, image, histogram_bins=0)
    with pytest.raises(InvalidInput, match="max_maps"):
        inspect_layers(model, image, max_maps=True)
    with pytest.raises(InvalidInput, match="ResNet or a QuantizedResNet"):
        inspect_layers(torch.nn.Linear(2, 2), image)
    with pytest.raises(InvalidInput, match="nothing to write"):
        write_inspection([], directory=Path("unused"))


EDITS: list[tuple[dict[str, Any], list[str]]] = [
    ({"layer": "layer2.0.conv1", "op": {"kind": "scale", "factor": 0.5}}, ["layer2.0.conv1.weight"]),
    ({"layer": "fc", "op": {"kind": "scale", "factor": -2}}, ["fc.weight", "fc.bias"]),
    ({"layer": "fc.weight", "op": {"kind": "clip", "low": -0.01, "high": 0.02}}, ["fc.weight"]),
    # a fresh BatchNorm has weight 1 and bias 0: both fall outside [0.5, 0.9]
    (
        {"layer": "layer1.0.bn1", "op": {"kind": "clip", "low": 0.5, "high": 0.9}},
        ["layer1.0.bn1.weight", "layer1.0.bn1.bias"],
    ),
    ({"layer": "fc", "op": {"kind": "set", "index": [1, 7], "value": 3.5}}, ["fc.weight"]),
    ({"layer": "bn1.running_mean", "op": {"kind": "set", "index": [5], "value": -1.0}}, ["bn1.running_mean"]),
]


@pytest.mark.parametrize(("raw", "targets"), EDITS, ids=[f"{e['op']['kind']}-{e['layer']}" for e, _ in EDITS])
def test_a_weight_edit_changes_that_layer_only(model: ResNet, raw: dict[str, Any], targets: list[str]) -> None:
    before = model.state_dict()
    kept = {name: tensor.clone() for name, tensor in before.items()}
    after = apply_weight_edit(before, parse_weight_edit(raw))
    assert changed_tensors(before, after) == targets
    assert changed_tensors(kept, before) == []  # the input is untouched
    for name in before:
        if name not in targets:
            assert after[name] is before[name]
    op = raw["op"]
    for name in targets:
        old, new = kept[name], after[name]
        assert new.shape == old.shape and new.dtype == old.dtype
        if op["kind"] == "scale":
            assert torch.equal(new, old * op["factor"])
        elif op["kind"] == "clip":
            assert float(new.min()) >= op["low"] and float(new.max()) <= op["high"]
            assert torch.equal(new, old.clamp(op["low"], op["high"]))
        else:
            changed = (new != old).nonzero().tolist()
            assert changed == [op["index"]] and float(new[tuple(op["index"])]) == op["value"]


def test_inspection_after_an_edit_shows_it_at_that_layer(
    model: ResNet, config: ClassifierConfig, image: torch.Tensor, float_records: list[LayerRecord]
) -> None:
    edit = WeightEdit.model_validate({"layer": "layer2.0.conv1", "op": {"kind": "scale", "factor": 3.0}})
    edited = build_classifier(config, None, device="cpu")
    edited.load_state_dict(apply_weight_edit(model.state_dict(), edit))
    records = inspect_layers(edited, image)
    at = UNITS.index("layer2.0")
    for before, after in zip(float_records[:at], records[:at], strict=True):
        assert after.as_json() == before.as_json() and after.maps_png == before.maps_png
    assert records[at].std != pytest.approx(float_records[at].std, rel=0.01)
    assert records[at].max != pytest.approx(float_records[at].max, rel=0.01)
    assert records[at].input_shape == float_records[at].input_shape


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"layer": "layer1.0.conv", "op": {"kind": "scale", "factor": 2}}, r"did you mean .*layer1\.0\.conv1"),
        ({"layer": "fc.weigth", "op": {"kind": "scale", "factor": 2}}, r"did you mean .*fc\.weight"),
        ({"layer": "layer1.0", "op": {"kind": "scale", "factor": 2}}, r"is a block.*layer1\.0\.conv1"),
        (
            {"layer": "head", "op": {"kind": "scale", "factor": 2}},
            r"no layer or tensor named 'head'.*the layers are conv1",
        ),
        (
            {"layer": "fc", "op": {"kind": "set", "index": [3, 0], "value": 1.0}},
            r"index\[0\]: 3 is out of range.*0 to 2",
        ),
        ({"layer": "fc.bias", "op": {"kind": "set", "index": [0, 0], "value": 1.0}}, r"needs 1 integer"),
        (
            {"layer": "fc", "op": {"kind": "set", "index": [-1, 0], "value": 1.0}},
            r"edit\.op\.set\.index\[0\]: must be ≥ 0",
        ),
        ({"layer": "fc", "op": {"kind": "clip", "low": 1.0, "high": -1.0}}, r"low.*must be ≤ high"),
        ({"layer": "fc", "op": {"kind": "scale", "factor": float("nan")}}, r"factor: must be a finite number"),
        ({"layer": "fc", "op": {"kind": "set", "index": [0, 0], "value": float("inf")}}, r"value: must be a finite"),
        ({"layer": "fc", "op": {"kind": "scale", "factor": 1e300}}, r"overflows"),
        ({"layer": "fc", "op": {"kind": "shift", "by": 1}}, r"edit\.op"),
        ({"layer": "fc", "op": {"kind": "scale", "factor": 2}, "note": 1}, r"edit\.note: is not a known field"),
        (
            {"layer": "bn1.num_batches_tracked", "op": {"kind": "scale", "factor": 2}},
            r"holds integer values, not weights",
        ),
    ],
)
def test_bad_weight_edits_are_refused_with_reasons(model: ResNet, raw: dict[str, Any], message: str) -> None:
    state = model.state_dict()
    with pytest.raises(InvalidInput, match=message):
        apply_weight_edit(state, raw)


def test_weight_edit_checks_numbers_even_without_validation(model: ResNet) -> None:
    unchecked = WeightEdit.model_construct(
        layer="fc", op=parse_weight_edit(EDITS[4][0]).op.model_copy(update={"value": float("nan")})
    )
    with pytest.raises(InvalidInput, match="finite"):
        apply_weight_edit(model.state_dict(), unchecked)


def test_model_graph_is_a_dag_from_input_to_output(model: ResNet) -> None:
    was_training = model.training
    graph = model_graph(model, input_size=SIZE)
    assert model.training == was_training and graph["units"] == UNITS
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert len(nodes) == len(graph["nodes"])
    by_name = {node["name"]: node for node in graph["nodes"]}
    assert by_name["conv1"]["output_shape"] == [1, 64, 32, 32] and by_name["conv1"]["type"] == "Conv2d"
    assert by_name["conv1"]["parameters"] == 64 * 3 * 7 * 7
    assert by_name["fc"]["output_shape"] == [1, 3] and by_name["fc"]["parameters"] == 512 * 3 + 3
    assert by_name["input"]["output_shape"] == [1, 3, SIZE, SIZE]
    assert sum(node["parameters"] for node in graph["nodes"]) == sum(p.numel() for p in model.parameters())
    assert {node["unit"] for node in graph["nodes"]} == set(UNITS)
    assert by_name["layer3.0.downsample.0"]["unit"] == "layer3.0" and by_name["flatten"]["unit"] == "pool"
    # edges: known ids, acyclic (every edge goes forward in node order), everything between input and output
    order = {node_id: position for position, node_id in enumerate(nodes)}
    assert all(order[source] < order[target] for source, target in graph["edges"])
    incoming = Counter(target for _, target in graph["edges"])
    outgoing = Counter(source for source, _ in graph["edges"])
    sources = [n for n in nodes if incoming[n] == 0]
    sinks = [n for n in nodes if outgoing[n] == 0]
    assert [nodes[n]["op"] for n in sources] == ["input"] and [nodes[n]["op"] for n in sinks] == ["output"]
    adds = [node for node in graph["nodes"] if node["type"] == "add"]
    assert len(adds) == 8 and all(incoming[node["id"]] == 2 for node in adds)
    assert [node["name"] for node in adds[:2]] == ["layer1.0.add", "layer1.1.add"]
    assert [node["unit"] for node in adds] == UNITS[1:9]
    for node in adds:
        shapes = [nodes[source]["output_shape"] for source, target in graph["edges"] if target == node["id"]]
        assert shapes[0] == shapes[1] == node["output_shape"]
    json.dumps(graph)
    with pytest.raises(InvalidInput, match="input_size"):
        model_graph(model, input_size=8)


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50"])
def test_resnet_tensors_match_torchvision_without_torch(arch: str) -> None:
    from torchvision import models

    from resources.classifier.tools.edit_spec import resnet_tensors

    model = getattr(models, arch)(num_classes=7)
    expected = {name: (tuple(t.shape), t.is_floating_point()) for name, t in model.state_dict().items()}
    got = {name: (info.shape, info.floating) for name, info in resnet_tensors(arch, num_classes=7).items()}
    assert list(got) == list(expected)
    assert got == expected
