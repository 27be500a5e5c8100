"""Decoding budgets: small uploads that would inflate to a lot of memory or CPU in the API are refused or
decoded within a bound.

Seen before these checks: a 0.5 MB `.pth` with a DEFLATE-compressed tensor record made the API allocate
500 MB before refusing it; a 5 KB 1-bit PNG of 40 megapixels added 450 MB to the API per upload (four at
once: 1.4 GB); a 100 KB zip of twenty copies of it cost 9 s of CPU (each copy decoded again). Memory is the
API process's peak RSS growth during the request (VmHWM after resetting it through /proc/<pid>/clear_refs).
"""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from commons import image_io
from commons.errors import InvalidImage, InvalidWeights, TooLarge
from commons.image_io import decode_slot, header_pixels, image_info
from commons.settings import get_settings
from commons.weights_check import WeightsLimits, check_weights_container
from launcher.client import CommonsClient
from registry.dataset_zip import ZipLimits, plan_import
from resources.sam.model import TINY_CONFIG
from resources.weights import read_state_dict
from tests.conftest import RunningStack
from tests.factories import zip_bytes

MB = 1024 * 1024
BOMB_DECLARED = 500 * MB  # what the compressed record inflates to
_T = TypeVar("_T")


# ---------------------------------------------------------------- builders


def torch_zip(path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    torch.save(tensors, path)
    return path


def compressed_pth(path: Path, *, declared: int = BOMB_DECLARED) -> Path:
    """A torch zip checkpoint of one small tensor whose data record is `declared` zeros, DEFLATE-compressed."""
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(4)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            if info.filename.endswith("/data/0"):
                target.writestr(info.filename, bytes(declared), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            else:
                target.writestr(info.filename, source.read(info))
    return path


def declared_size_patched(path: Path, entry_suffix: str, size: int) -> None:
    """Rewrite both sizes of one STORED entry in the central directory (the local header is left as it is)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        name = bytes(data[at + 46 : at + 46 + name_length]).decode()
        if name.endswith(entry_suffix):
            struct.pack_into("<II", data, at + 20, size, size)
            path.write_bytes(bytes(data))
            return
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no entry ending in {entry_suffix}")


@lru_cache
def one_bit_png(marker: int = 0) -> bytes:
    """A 8000x5000 (40 megapixel) 1-bit PNG of a few KB; `marker` sets a pixel so that copies differ."""
    image = Image.new("1", (8000, 5000))
    if marker:
        image.putpixel((marker % 8000, marker // 8000), 1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- memory of a process


def rss_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid` in bytes (psutil is not installed; /proc is what it reads)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def peak_growth(pid: int, action: Callable[[], _T]) -> tuple[_T, int]:
    """`action()`'s result and how far `pid`'s resident memory rose above where it stood before, at its peak."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = rss_status(pid)["VmRSS"]
    result = action()
    growth = rss_status(pid)["VmHWM"] - before
    print(f"peak RSS growth of {pid}: {growth / MB:.1f} MB")  # shown with pytest -s
    return result, growth


# ---------------------------------------------------------------- weights: unit


def test_torch_save_output_passes(tmp_path: Path) -> None:
    path = torch_zip(tmp_path / "w.pth", {f"t{i}": torch.randn(3, 3) for i in range(5)})
    check_weights_container(path, limits=WeightsLimits())
    assert set(read_state_dict(path)) == {f"t{i}" for i in range(5)}
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    assert torch.equal(read_state_dict(legacy)["w"], torch.ones(2))


def test_compressed_entry_is_refused_before_torch_load(tmp_path: Path) -> None:
    path = compressed_pth(tmp_path / "bomb.pth", declared=16 * MB)
    with pytest.raises(InvalidWeights) as caught:
        read_state_dict(path)
    message = caught.value.message
    assert "zip entry 'archive/data/0' is compressed" in message
    assert "torch.save" in message and caught.value.field == "weights"


def test_declared_sizes_beyond_the_file_are_refused(tmp_path: Path) -> None:
    path = torch_zip(tmp_path / "w.pth", {"w": torch.zeros(8)})
    declared_size_patched(path, "/data/0", 1 << 30)
    with pytest.raises(InvalidWeights, match=r"data/0' declares 1073741824 bytes .* does not fit"):
        check_weights_container(path, limits=WeightsLimits())


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    path = torch_zip(tmp_path / "many.pth", {f"t{i}": torch.zeros(1) for i in range(20)})
    with pytest.raises(InvalidWeights, match="more than the limit of 10"):
        check_weights_container(path, limits=WeightsLimits(max_entries=10))


def test_large_legacy_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.pth"
    torch.save({"w": torch.zeros(1000)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(InvalidWeights, match=r"legacy format.*re-save it with torch.save"):
        check_weights_container(path, limits=WeightsLimits(max_legacy_bytes=1000))
    check_weights_container(path, limits=WeightsLimits(max_legacy_bytes=10_000))


def test_zip_without_end_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.pth"
    whole = torch_zip(tmp_path / "whole.pth", {"w": torch.zeros(8)}).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidWeights, match="no end record"):
        read_state_dict(path)


def test_safetensors_header_is_checked_before_parsing(tmp_path: Path) -> None:
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(InvalidWeights, match="header declares 1099511627776 bytes, more than the limit"):
        read_state_dict(huge)
    short = tmp_path / "short.safetensors"
    short.write_bytes(struct.pack("<Q", 100) + b"{}")
    with pytest.raises(InvalidWeights, match="the file has 10"):
        check_weights_container(short, limits=WeightsLimits())


# ---------------------------------------------------------------- images: unit


def test_one_bit_photo_is_validated_in_its_own_mode() -> None:
    data = one_bit_png()
    assert len(data) < 10_000
    info, growth = peak_growth(os.getpid(), lambda: image_info(data, name="big.png", max_pixels=40_000_000))
    assert (info.width, info.height, info.format) == (8000, 5000, "PNG")
    assert growth < 80 * MB, f"validating a 40 MP 1-bit PNG grew this process by {growth / MB:.0f} MB"


def test_pixels_over_the_limit_are_refused_from_the_header() -> None:
    data = one_bit_png()
    started = time.monotonic()
    with pytest.raises(InvalidImage, match="8000x5000 = 40000000 pixels, more than the limit of 39999999"):
        image_info(data, name="big.png", max_pixels=39_999_999)
    assert header_pixels(data, name="big.png", max_pixels=40_000_000) == 40_000_000
    assert time.monotonic() - started < 0.5


def test_image_info_reports_the_oriented_size_of_a_rotated_jpeg() -> None:
    image = Image.fromarray(np.zeros((40, 100, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    info = image_info(buffer.getvalue(), name="r.jpg", max_pixels=10_000)
    assert (info.width, info.height) == (40, 100)
    assert image_io.decode_image(buffer.getvalue(), name="r.jpg", max_pixels=10_000).shape == (100, 40, 3)


def test_truncated_jpeg_is_refused_at_draft_scale() -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(
        buffer, format="JPEG"
    )
    with pytest.raises(InvalidImage, match="truncated"):
        image_info(buffer.getvalue()[: len(buffer.getvalue()) // 2], name="cut.jpg", max_pixels=100_000)


def test_decodes_wait_for_a_free_slot() -> None:
    slots = get_settings().max_concurrent_decodes
    assert Image.MAX_IMAGE_PIXELS is not None
    image_info(one_bit_png(), name="x.png", max_pixels=40_000_000)
    assert get_settings().max_image_pixels == Image.MAX_IMAGE_PIXELS
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with decode_slot():
            release.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(slots)]
    for thread in holders:
        thread.start()
    time.sleep(0.1)

    def wait_for_slot() -> None:
        with decode_slot():
            entered.set()

    waiter = threading.Thread(target=wait_for_slot)
    waiter.start()
    assert not entered.wait(0.3), "a decode started while every slot was taken"
    release.set()
    assert entered.wait(5)
    for thread in [*holders, waiter]:
        thread.join(5)


# ---------------------------------------------------------------- zip import: unit


def _limits(*, max_pixels: int = 2_000_000_000, max_seconds: float = 120.0) -> ZipLimits:
    return ZipLimits(
        max_bytes=50 * MB,
        max_entries=100,
        max_ratio=100,
        max_entry_bytes=4 * MB,
        max_pixels=max_pixels,
        max_seconds=max_seconds,
    )


def test_identical_entries_are_decoded_once() -> None:
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes({f"cat/{i}.png": one_bit_png() for i in range(20)})))
    started = time.monotonic()
    # 20 × 40 MP would be 800 MP: a 50 MP budget passes only if the copies are decoded once
    plan = plan_import(archive, limits=_limits(max_pixels=50_000_000), max_pixels=40_000_000)
    assert len(plan.images) == 1 and plan.classes == ["cat"]
    assert time.monotonic() - started < 3


def test_pixel_budget_says_how_far_it_got() -> None:
    entries = {f"cat/{i}.png": one_bit_png(i + 1) for i in range(3)}
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes(entries)))
    with pytest.raises(TooLarge) as caught:
        plan_import(archive, limits=_limits(max_pixels=100_000_000), max_pixels=40_000_000)
    message = caught.value.message
    assert "more than the limit of 100000000 pixels" in message
    assert "2 of 3 entries checked, 2 distinct images of 80000000 pixels decoded" in message
    assert "nothing was imported" in message


def test_time_budget_says_how_far_it_got() -> None:
    entries = {f"dog/{i}.png": one_bit_png(i + 10) for i in range(6)}
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes(entries)))
    started = time.monotonic()
    with pytest.raises(TooLarge, match=r"more than the limit of 0.05 s to check: \d+ of 6 entries checked"):
        plan_import(archive, limits=_limits(max_seconds=0.05), max_pixels=40_000_000)
    assert time.monotonic() - started < 2


# ---------------------------------------------------------------- through the API


def _sam_resource(client: CommonsClient) -> str:
    name = f"sam-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=name, kind="segmenter.sam", title="Tiny SAM", visibility="private", citation="x")
    return name


def _post_version(client: CommonsClient, name: str, path: Path) -> tuple[int, str]:
    config = {**TINY_CONFIG, "checkpoint": path.name}
    with path.open("rb") as handle:
        response = client.http.post(
            f"/resources/{name}/versions",
            data={"config": json.dumps(config)},
            files=[("files", (path.name, handle))],
        )
    return response.status_code, response.text


@pytest.fixture(scope="module")
def bomb_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.5 MB on disk, 500 MB once inflated."""
    path = compressed_pth(tmp_path_factory.mktemp("bomb") / "sam_bomb.pth")
    assert path.stat().st_size < MB
    return path


def test_compressed_pth_is_refused_without_inflating(
    stack: RunningStack, tiny_weights: Path, bomb_pth: Path, tmp_path: Path
) -> None:
    client = stack.new_user()
    name = _sam_resource(client)
    good = tmp_path / "sam_tiny.pth"
    torch.save(load_file(str(tiny_weights)), good)
    status, text = _post_version(client, name, good)  # also loads torch in the API before the measure
    assert status == 201, text
    (status, text), growth = peak_growth(stack.api_pid(), lambda: _post_version(client, name, bomb_pth))
    assert status == 422, text
    assert "data/0' is compressed" in text and "torch.save" in text
    assert growth < 64 * MB, f"refusing a {bomb_pth.stat().st_size} B .pth grew the API by {growth / MB:.0f} MB"


def _dataset(client: CommonsClient) -> str:
    response = client.http.post("/datasets", json={"name": f"Budget {uuid.uuid4().hex[:6]}"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _add(client: CommonsClient, dataset: str, name: str, data: bytes) -> tuple[int, str]:
    response = client.http.post(f"/datasets/{dataset}/items", files=[("files", (name, data, "image/png"))])
    return response.status_code, response.text


def test_one_bit_40_megapixel_item_within_a_memory_bound(stack: RunningStack) -> None:
    client = stack.new_user()
    dataset = _dataset(client)
    assert _add(client, dataset, "warm.png", one_bit_png(99))[0] == 201
    (status, text), growth = peak_growth(stack.api_pid(), lambda: _add(client, dataset, "big.png", one_bit_png(1)))
    assert status == 201, text
    assert (json.loads(text)[0]["width"], json.loads(text)[0]["height"]) == (8000, 5000)
    assert growth < 120 * MB, f"one 5 KB 40 MP upload grew the API by {growth / MB:.0f} MB"


def test_four_concurrent_uploads_share_the_decode_slots(stack: RunningStack) -> None:
    client = stack.new_user()
    dataset = _dataset(client)
    token = client.http.headers["Authorization"].removeprefix("Bearer ")
    clients = [CommonsClient(stack.settings.api_url, token=token) for _ in range(4)]
    assert _add(clients[0], dataset, "warm.png", one_bit_png(98))[0] == 201

    def four() -> list[tuple[int, str]]:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(_add, c, dataset, f"p{i}.png", one_bit_png(i + 2)) for i, c in enumerate(clients)]
            return [future.result() for future in futures]

    results, growth = peak_growth(stack.api_pid(), four)
    assert [status for status, _ in results] == [201] * 4, results
    assert growth < 200 * MB, f"four concurrent 40 MP uploads grew the API by {growth / MB:.0f} MB"
    for c in clients:
        c.close()


def test_zip_of_twenty_copies_is_decoded_once(stack: RunningStack) -> None:
    client = stack.new_user()
    dataset = _dataset(client)
    archive = zip_bytes({f"cat/copy{i}.png": one_bit_png() for i in range(20)})
    assert len(archive) < 200_000
    started = time.monotonic()
    response = client.http.post(f"/datasets/{dataset}/import", files={"file": ("copies.zip", archive)})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert (response.json()["added"], response.json()["existing"]) == (1, 0)
    assert elapsed < 4, f"importing twenty copies of one photo took {elapsed:.1f} s"


def test_zip_over_the_pixel_budget_imports_nothing(stack: RunningStack) -> None:
    client = stack.new_user()
    dataset = _dataset(client)
    budget = stack.settings.max_import_pixels
    count = budget // 40_000_000 + 1
    archive = zip_bytes({f"cat/{i}.png": one_bit_png(i + 1) for i in range(count)})
    response, growth = peak_growth(
        stack.api_pid(),
        lambda: client.http.post(f"/datasets/{dataset}/import", files={"file": ("many.zip", archive)}),
    )
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert f"more than the limit of {budget} pixels" in detail and "nothing was imported" in detail
    assert f"{count - 1} distinct images of {(count - 1) * 40_000_000} pixels decoded" in detail
    assert growth < 150 * MB, f"a refused {len(archive)} B zip grew the API by {growth / MB:.0f} MB"
    found = client.http.get(f"/datasets/{dataset}").json()
    assert found["item_count"] == 0 and found["classes"] == []
