"""Cost bounds at submit and upload: a model or parameters whose estimated activation memory or work exceeds the
deployment's budget is refused with 422 naming the block or parameter, the estimate and the budget's setting.

What was seen: a `classifier.blocks` model of 24,578 parameters whose first block is a 1x1 Conv2d to 4096
channels at 1024 px (about 17 GB for one photo) was accepted and would have run on the shared warm worker; SAM's
automatic masks took `points_per_side` 128 with `crop_n_layers` 3. The estimates themselves are checked against
torch (a forward pass on the meta device) and against segment-anything's own crop boxes.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
import torch
from PIL import Image
from segment_anything.utils.amg import generate_crop_boxes
from torch import nn

from launcher.client import CommonsClient
from resources.classifier.blocks.model import _construct
from resources.classifier.blocks.spec import parse_blocks_config
from resources.cost import blocks_memory
from resources.sam.config import AutoParams, parse_infer_params, parse_sam_config
from resources.sam.cost import crop_sizes, encoder_peak_bytes, sam_memory
from services.dispatch import Dispatcher
from services.kinds import task_memory
from tests.api.conftest import Published
from tests.api.test_blocks_api import CNN
from tests.conftest import RunningStack

GB = 1e9
CONV = {"type": "Conv2d", "in_channels": 3, "out_channels": 4096, "kernel_size": 1}
HEAD = [
    {"type": "MaxPool2d", "kernel_size": 16},
    {"type": "MaxPool2d", "kernel_size": 16},
    {"type": "MaxPool2d", "kernel_size": 4},
    {"type": "Flatten"},
    {"type": "Linear", "in_features": 4096, "out_features": 2},
]
# The reported model: 24,578 parameters, 4096x1024x1024 floats (17.2 GB) out of its first block.
REPORTED: dict[str, Any] = {"input_channels": 3, "input_size": 1024, "blocks": [CONV, *HEAD]}
# The same with a ReLU after the Conv2d: two such maps alive at once (34.4 GB), over every lane's budget.
WIDE: dict[str, Any] = {"input_channels": 3, "input_size": 1024, "blocks": [CONV, {"type": "ReLU"}, *HEAD]}
SANE: dict[str, Any] = CNN  # the small CNN the blocks API tests train
SMALL_STACKS: list[dict[str, Any]] = [
    SANE,
    {
        "input_channels": 3,
        "input_size": 32,
        "blocks": [
            {"type": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 5, "stride": 2, "padding": 2},
            {"type": "BatchNorm2d", "num_features": 16},
            {"type": "LeakyReLU"},
            {"type": "Conv2d", "in_channels": 16, "out_channels": 64, "kernel_size": 3, "dilation": 2},
            {"type": "AvgPool2d", "kernel_size": 3, "stride": 2, "padding": 1},
            {"type": "Flatten"},
            {"type": "Dropout", "p": 0.1},
            {"type": "Linear", "in_features": 2304, "out_features": 10},
            {"type": "Softmax"},
        ],
    },
]


def measured_on_meta(config: dict[str, Any]) -> tuple[int, int]:
    """(inference peak, sum of every block's output incl. the input) in values, from a forward pass of the real
    model on the meta device with a hook on every block."""
    parsed = parse_blocks_config(config)
    with torch.device("meta"):
        model = _construct(parsed).eval()
        image = torch.empty(1, *parsed.input_shape)
    peak, total = 0, image.numel()

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal peak, total
        peak = max(peak, inputs[0].numel() + output.numel())
        total += output.numel()

    for block in model.children():
        block.register_forward_hook(hook)
    with torch.inference_mode():
        model(image)
    return peak, total


@pytest.mark.parametrize("config", [*SMALL_STACKS, REPORTED, WIDE], ids=["sane", "mixed", "reported", "wide"])
def test_the_blocks_estimate_is_what_torch_allocates(config: dict[str, Any]) -> None:
    peak, total = measured_on_meta(config)
    parsed = parse_blocks_config(config)
    assert blocks_memory(parsed, training=False, batch=1).per_item == 4 * peak
    assert blocks_memory(parsed, training=True, batch=8).total == 8 * 2 * 4 * total


@pytest.mark.parametrize(("side", "layers", "size"), [(32, 0, (640, 480)), (64, 2, (4000, 3000)), (16, 1, (33, 1000))])
def test_sam_crops_are_segment_anythings(side: int, layers: int, size: tuple[int, int]) -> None:
    params = AutoParams(points_per_side=side, crop_n_layers=layers)
    width, height = size
    boxes, box_layers = generate_crop_boxes((height, width), layers, params.crop_overlap_ratio)
    expected = [(layer, x1 - x0, y1 - y0) for (x0, y0, x1, y1), layer in zip(boxes, box_layers, strict=True)]
    assert crop_sizes(params, width=width, height=height) == expected


@pytest.mark.parametrize(("layers", "encoders"), [(0, 1), (1, 4), (2, 4)])  # 1, 5 and 21 crops
def test_the_fast_engines_crops_encoded_together_are_counted(layers: int, encoders: int) -> None:
    config = parse_sam_config({"arch": "vit_b", "checkpoint": "sam.pth"})
    estimates = {
        engine: sam_memory(
            config,
            parse_infer_params({"mode": "auto", "auto": {"crop_n_layers": layers, "engine": engine}}),
            width=640,
            height=480,
        )
        for engine in ("reference", "fast")
    }
    photo = 640 * 480 * 3
    assert estimates["reference"].fixed == encoder_peak_bytes(config) + photo
    assert estimates["fast"].fixed == encoders * encoder_peak_bytes(config) + photo
    assert estimates["fast"].per_item == estimates["reference"].per_item


pytestmark_stack = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def blocks_resource(client: CommonsClient) -> str:
    name = f"blocks-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=name, kind="classifier.blocks", title="Blocks")
    return name


def post_version(client: CommonsClient, name: str, config: dict[str, Any]) -> Any:
    return client.http.post(f"/resources/{name}/versions", data={"config": json.dumps(config)})


def big_photo(client: CommonsClient) -> dict[str, Any]:
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000), (120, 60, 30)).save(buffer, format="PNG")
    return client.upload("big.png", buffer.getvalue())


@pytestmark_stack
def test_a_wide_conv2d_is_refused_at_upload_naming_the_block(stack: RunningStack) -> None:
    client = stack.new_user()
    name = blocks_resource(client)
    refused = post_version(client, name, WIDE)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["field"] == "config.blocks[0]"
    assert body["detail"].startswith("block 1 Conv2d gives 4096x1024x1024 per photo: one photo needs about 34.4 GB")
    assert "over the batch lane's budget of 25.8 GB (COMMONS_BATCH_LANE_ACTIVATION_BYTES=25769803776)" in body["detail"]
    assert client.http.get(f"/resources/{name}/versions").json() == []

    accepted = post_version(client, name, SANE)
    assert accepted.status_code == 201, accepted.text


@pytestmark_stack
def test_the_reported_model_no_longer_reaches_the_warm_worker(stack: RunningStack, coffee_png: bytes) -> None:
    client = stack.new_user()
    name = blocks_resource(client)
    assert post_version(client, name, REPORTED).status_code == 201  # 17.2 GB: within the batch lane's budget
    photo = client.upload("coffee.png", coffee_png)
    spec = {"resource": name, "mode": "infer", "inputs": [photo["id"]], "lane": "warm"}
    refused = client.http.post("/tasks", json=spec)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert refused.json()["field"] == "config.blocks[0]"
    assert detail.startswith("block 1 Conv2d gives 4096x1024x1024 per photo: one photo needs about 17.2 GB")
    assert "warm lane's budget of 4.3 GB (COMMONS_WARM_LANE_ACTIVATION_BYTES=4294967296)" in detail
    assert client.http.get("/tasks").json() == []

    # Left to choose, the dispatcher sends it to the batch lane (its own process), a sane model to the warm one.
    dispatcher = Dispatcher(stack.settings)
    try:
        assert dispatcher.warm_worker_online()
        for config, lane in ((REPORTED, "batch"), (SANE, "warm")):
            memory = task_memory(
                "classifier.blocks",
                "infer",
                {"batch_size": 64},
                [],
                config=config,
                dataset=None,
                settings=stack.settings,
            )
            assert (
                dispatcher.choose_lane(requested="auto", mode="infer", warm=True, input_count=1, memory=memory) == lane
            )
    finally:
        dispatcher.close()


@pytestmark_stack
def test_sam_work_over_the_budget_is_refused_naming_the_parameters(stack: RunningStack, published: Published) -> None:
    client = published.provider
    photo = big_photo(client)

    def submit(params: dict[str, Any], lane: str = "auto") -> Any:
        spec = {"resource": published.name, "mode": "infer", "inputs": [photo["id"]], "params": params, "lane": lane}
        return client.http.post("/tasks", json=spec)

    heavy = submit({"mode": "auto", "auto": {"points_per_side": 64, "crop_n_layers": 2}})
    assert heavy.status_code == 422, heavy.text
    assert heavy.json()["field"] == "params.auto.points_per_side"
    detail = heavy.json()["detail"]
    assert "points_per_side 64 with crop_n_layers 2 on the 4000x3000 photo 'big.png' means 21 crop(s)" in detail
    assert "86,016 prompt points" in detail and "COMMONS_SAM_MAX_WORK_PER_PHOTO" in detail

    for auto, field in (({"points_per_side": 128}, "points_per_side"), ({"crop_n_layers": 3}, "crop_n_layers")):
        over = submit({"mode": "auto", "auto": auto})
        assert over.status_code == 422, over.text
        assert over.json()["field"] == f"params.auto.{field}"

    # The library's defaults on a 12-megapixel photo: 64 points a batch upscale 192 masks to 4000x3000 at once.
    warm = submit({"mode": "auto"}, lane="warm")
    assert warm.status_code == 422, warm.text
    assert warm.json()["field"] == "params.auto.points_per_batch"
    assert "params.auto.points_per_batch 64:" in warm.json()["detail"]
    assert "use params.auto.points_per_batch ≤ 13" in warm.json()["detail"]
    assert client.http.get("/tasks").json() == []


def test_the_build_page_is_told_what_a_model_costs_before_saving(stack: RunningStack) -> None:
    """POST /blocks/validate (the Build page's live check) gives the memory a photo needs and says what the
    lanes allow, so a learner sees the problem while building, not at upload."""
    client = stack.new_user()

    def check(config: dict[str, Any]) -> dict[str, Any]:
        answer = client.http.post("/blocks/validate", json=config)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    sane = check(SANE)
    assert sane["valid"] and sane["memory"]["warm_lane"] and sane["memory"]["refused"] is None
    assert 0 < sane["memory"]["infer_bytes_per_photo"] < sane["memory"]["train_bytes_per_photo"]
    reported = check(REPORTED)
    assert reported["valid"] and not reported["memory"]["warm_lane"] and reported["memory"]["batch_lane"]
    assert abs(reported["memory"]["infer_bytes_per_photo"] - 17.2 * GB) < 0.1 * GB
    assert any("batch lane" in warning for warning in reported["warnings"]), reported["warnings"]
    wide = check(WIDE)
    assert not wide["valid"] and wide["errors"][-1]["block"] == 1, wide["errors"]
    assert "COMMONS_BATCH_LANE_ACTIVATION_BYTES" in wide["errors"][-1]["message"]
