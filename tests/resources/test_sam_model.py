"""resources.sam.model: random weights round-trip; unsafe, broken or mismatched weights are refused."""

from __future__ import annotations

import collections
import datetime
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from commons.errors import InvalidInput, InvalidWeights
from resources.device import select_device
from resources.sam.config import SamConfig, parse_sam_config
from resources.sam.model import (
    TINY_CONFIG,
    VIT_B_SIZED_CONFIG,
    build_sam,
    check_weights_file,
    save_random_weights,
)

TINY = parse_sam_config(TINY_CONFIG)


class TaggedStateDict(collections.OrderedDict[str, object]):
    """A dict subclass: unpickling it needs the full (unsafe) unpickler."""


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_random_weights(TINY, path, seed=0)
    return path


def test_configs_for_tests_and_benchmark_are_valid() -> None:
    assert TINY.arch == "custom"
    assert (
        parse_sam_config(VIT_B_SIZED_CONFIG).encoder()
        == parse_sam_config({"arch": "vit_b", "checkpoint": "b.pth"}).encoder()
    )


def test_random_weights_round_trip(tiny_weights: Path) -> None:
    sam = build_sam(TINY, tiny_weights, device="cpu")
    assert not sam.training
    saved = load_file(str(tiny_weights))
    state = sam.state_dict()
    assert state.keys() == saved.keys()
    for name, tensor in saved.items():
        assert torch.equal(state[name], tensor), name
    assert sam.pixel_mean.flatten().tolist() == pytest.approx([123.675, 116.28, 103.53])
    assert sam.pixel_std.flatten().tolist() == pytest.approx([58.395, 57.12, 57.375])
    assert all(p.device.type == "cpu" for p in sam.parameters())


def test_random_weights_are_seeded_and_leave_the_global_rng_alone(tmp_path: Path, tiny_weights: Path) -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    save_random_weights(TINY, tmp_path / "again.safetensors", seed=0)
    save_random_weights(TINY, tmp_path / "other.safetensors", seed=1)
    assert torch.equal(torch.rand(3), expected_next)
    first, again = load_file(str(tiny_weights)), load_file(str(tmp_path / "again.safetensors"))
    other = load_file(str(tmp_path / "other.safetensors"))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_random_weights_are_written_as_safetensors_only(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="safetensors"):
        save_random_weights(TINY, tmp_path / "w.pth", seed=0)


def test_plain_state_dict_pth_is_accepted(tmp_path: Path, tiny_weights: Path) -> None:
    path = tmp_path / "plain.pth"
    torch.save(load_file(str(tiny_weights)), path)
    check_weights_file(path, config=TINY)
    sam = build_sam(TINY, path, device="cpu")
    reference = load_file(str(tiny_weights))
    assert all(torch.equal(sam.state_dict()[k], v) for k, v in reference.items())


def test_half_precision_weights_load_as_float32(tmp_path: Path, tiny_weights: Path) -> None:
    path = tmp_path / "half.safetensors"
    save_file({k: v.half() for k, v in load_file(str(tiny_weights)).items()}, str(path))
    sam = build_sam(TINY, path, device="cpu")
    assert {p.dtype for p in sam.parameters()} == {torch.float32}


@pytest.mark.parametrize(
    "payload",
    [{"x": datetime.datetime(2024, 1, 2, 3, 4, 5)}, TaggedStateDict(w=torch.zeros(2))],
    ids=["datetime", "dict-subclass"],
)
def test_pickle_needing_the_full_unpickler_is_refused(tmp_path: Path, payload: object) -> None:
    path = tmp_path / "unsafe.pth"
    torch.save(payload, path)
    for attempt in (lambda: check_weights_file(path), lambda: build_sam(TINY, path, device="cpu")):
        with pytest.raises(InvalidWeights, match="weights_only") as caught:
            attempt()
        assert "safetensors" in caught.value.message


def test_non_tensor_contents_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "numbers.pt"
    torch.save({"w": 1}, path)
    with pytest.raises(InvalidWeights, match="flat state dict"):
        build_sam(TINY, path, device="cpu")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"], ids=["empty", "text"])
def test_unreadable_pth_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(InvalidWeights, match=r"broken\.pth"):
        check_weights_file(path)


def test_truncated_safetensors_is_refused(tmp_path: Path, tiny_weights: Path) -> None:
    path = tmp_path / "cut.safetensors"
    data = tiny_weights.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidWeights, match=r"cut\.safetensors is not a valid safetensors file"):
        check_weights_file(path)
    with pytest.raises(InvalidWeights, match="not a valid safetensors file"):
        build_sam(TINY, path, device="cpu")


def test_weights_that_do_not_fit_the_config_are_refused(tiny_weights: Path) -> None:
    deeper = SamConfig.model_validate({**TINY_CONFIG, "encoder_depth": 3})
    with pytest.raises(InvalidWeights, match=r"missing: image_encoder\.blocks\.2\.") as caught:
        check_weights_file(tiny_weights, config=deeper)
    assert "arch and encoder_* fields" in caught.value.message
    narrower = SamConfig.model_validate({**TINY_CONFIG, "encoder_embed_dim": 32})
    with pytest.raises(InvalidWeights, match=r"wrong shape: .* is \[64\] but the config needs \[32\]"):
        build_sam(narrower, tiny_weights, device="cpu")
    shallower = SamConfig.model_validate({**TINY_CONFIG, "encoder_depth": 1, "encoder_global_attn_indexes": [0]})
    with pytest.raises(InvalidWeights, match=r"unexpected: image_encoder\.blocks\.1\."):
        build_sam(shallower, tiny_weights, device="cpu")


def test_missing_wrong_suffix_or_no_weights(tmp_path: Path) -> None:
    with pytest.raises(InvalidWeights, match="does not exist"):
        build_sam(TINY, tmp_path / "absent.safetensors", device="cpu")
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(InvalidWeights, match=r"\.safetensors"):
        check_weights_file(tmp_path / "w.bin")
    with pytest.raises(InvalidWeights, match="untrained"):
        build_sam(TINY, None, device="cpu")


def test_select_device() -> None:
    assert select_device() == ("cuda" if torch.cuda.is_available() else "cpu")
