"""resources.classifier.resnet.model: seeded construction, safe weight files, shape checks, freezing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from commons.errors import InvalidInput, InvalidWeights
from resources.classifier.resnet.model import (
    build_classifier,
    check_weights_file,
    freeze_backbone,
    save_weights,
)
from resources.device import select_device
from tests.resources.test_classifier_data import small_config


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def test_select_device_matches_torch() -> None:
    assert select_device() == ("cuda" if torch.cuda.is_available() else "cpu")


def test_random_init_is_seeded_and_leaves_global_rng_alone() -> None:
    before = torch.get_rng_state()
    first = build_classifier(small_config(4, init_seed=11), None, device="cpu")
    assert torch.equal(torch.get_rng_state(), before)
    again = build_classifier(small_config(4, init_seed=11), None, device="cpu")
    other = build_classifier(small_config(4, init_seed=12), None, device="cpu")
    assert _same(first, again)
    assert not torch.equal(first.conv1.weight, other.conv1.weight)
    assert not first.training
    assert (first.fc.in_features, first.fc.out_features) == (512, 4)
    logits = first(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 4) and logits.dtype == torch.float32


def test_resnet50_head() -> None:
    model = build_classifier(small_config(5, arch="resnet50"), None, device="cpu")
    assert (model.fc.in_features, model.fc.out_features) == (2048, 5)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_round_trip(tmp_path: Path, suffix: str) -> None:
    config = small_config(3, init_seed=2)
    model = build_classifier(config, None, device="cpu")
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_weights(model, path=path, metadata={"note": "test"})
        assert not list(tmp_path.glob(".*partial"))
    else:
        torch.save(model.state_dict(), path)
    check_weights_file(path, config=config)
    loaded = build_classifier(config, path, device="cpu")
    assert _same(model, loaded)
    assert not loaded.training


def test_unsafe_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(marker),))

    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.zeros(3, 512), "extra": Payload()}, path)
    config = small_config(3)
    for attempt in (
        lambda: build_classifier(config, path, device="cpu"),
        lambda: check_weights_file(path, config=config),
    ):
        with pytest.raises(InvalidWeights, match=r"weights_only=True") as caught:
            attempt()
        assert caught.value.field == "weights"
    assert not marker.exists()


def test_wrong_class_count_names_the_head(tmp_path: Path) -> None:
    path = tmp_path / "three.safetensors"
    save_weights(build_classifier(small_config(3), None, device="cpu"), path=path)
    with pytest.raises(InvalidWeights) as caught:
        check_weights_file(path, config=small_config(4))
    message = caught.value.message
    assert "2 wrong shape" in message
    assert "fc.weight is [3, 512] but the config needs [4, 512]" in message and "fc.bias" in message
    with pytest.raises(InvalidWeights, match=r"fc\.weight is \[3, 512\]"):
        build_classifier(small_config(4), path, device="cpu")


def test_wrong_arch_lists_missing_and_unexpected(tmp_path: Path) -> None:
    path = tmp_path / "r18.safetensors"
    save_weights(build_classifier(small_config(3), None, device="cpu"), path=path)
    with pytest.raises(InvalidWeights) as caught:
        check_weights_file(path, config=small_config(3, arch="resnet34"))
    assert "missing: layer1.2." in caught.value.message and "and " in caught.value.message
    state = {"conv1.weight": torch.zeros(64, 3, 7, 7), "head.weight": torch.zeros(2)}
    odd = tmp_path / "odd.safetensors"
    save_file(state, str(odd))
    with pytest.raises(InvalidWeights, match=r"1 unexpected: head\.weight"):
        build_classifier(small_config(3), odd, device="cpu")


def test_integer_buffer_must_stay_integer(tmp_path: Path) -> None:
    config = small_config(3)
    state = {k: v.clone() for k, v in build_classifier(config, None, device="cpu").state_dict().items()}
    state["bn1.num_batches_tracked"] = state["bn1.num_batches_tracked"].float()
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    with pytest.raises(InvalidWeights, match=r"bn1\.num_batches_tracked has dtype torch\.float32"):
        build_classifier(config, path, device="cpu")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("w.safetensors", b"not a safetensors file", "is not a valid safetensors file"),
        ("w.pth", b"not a pickle", "w.pth cannot be loaded with torch.load(weights_only=True)"),
        ("w.bin", b"", "weights must be a .safetensors file"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidWeights) as caught:
        check_weights_file(path, config=small_config(3))
    assert message in caught.value.message


def test_missing_file_and_wrong_save_suffix(tmp_path: Path) -> None:
    with pytest.raises(InvalidWeights, match="does not exist"):
        build_classifier(small_config(3), tmp_path / "absent.safetensors", device="cpu")
    model = build_classifier(small_config(3), None, device="cpu")
    with pytest.raises(InvalidInput, match=r"written as \.safetensors"):
        save_weights(model, path=tmp_path / "w.pth")


def test_freeze_backbone_leaves_only_fc_trainable() -> None:
    model = build_classifier(small_config(3), None, device="cpu")
    freeze_backbone(model)
    trainable = sorted(name for name, p in model.named_parameters() if p.requires_grad)
    assert trainable == ["fc.bias", "fc.weight"]
