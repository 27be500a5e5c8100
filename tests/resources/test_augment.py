"""resources.augment: exact mirrors, rotations and blur on real photos, names of copies, parameter validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from commons.errors import InvalidInput
from resources.augment import (
    AugmentParams,
    BlurOp,
    FlipOp,
    FlopOp,
    RotateOp,
    apply,
    augment_items,
    derived_name,
    describe,
    parse_augment_params,
    suffix,
)

ROOT = Path(__file__).resolve().parents[2]
ALL_OPS = (RotateOp(), RotateOp(degrees=-30, expand=True), BlurOp(), BlurOp(radius=2.5), FlipOp(), FlopOp())


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """The astronaut, 64 wide by 48 high (not square on purpose), RGB."""
    return np.asarray(Image.fromarray(skdata.astronaut()).resize((64, 48), Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    """The cameraman, 40 wide by 56 high, grey."""
    return np.asarray(Image.fromarray(skdata.camera()).resize((40, 56), Image.Resampling.BILINEAR))


def laplacian_variance(image: np.ndarray) -> float:
    values = image.astype(np.float64)
    if values.ndim == 3:
        values = values.mean(axis=2)
    centre = values[1:-1, 1:-1]
    laplacian = values[:-2, 1:-1] + values[2:, 1:-1] + values[1:-1, :-2] + values[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def test_importing_augment_does_not_import_torch() -> None:
    code = "import sys, resources.augment; sys.exit(1 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=False).returncode == 0


def test_fixtures_are_real_non_square_photos(photo: np.ndarray, grey: np.ndarray) -> None:
    assert photo.shape == (48, 64, 3) and photo.dtype == np.uint8
    assert grey.shape == (56, 40) and grey.dtype == np.uint8
    assert photo.std() > 20 and grey.std() > 20


@pytest.mark.parametrize("operation", [FlipOp(), FlopOp()], ids=["flip", "flop"])
def test_mirroring_twice_gives_the_original_bit_for_bit(
    photo: np.ndarray, grey: np.ndarray, operation: FlipOp | FlopOp
) -> None:
    for image in (photo, grey):
        once = apply(image, operation)
        assert not np.array_equal(once, image)
        assert np.array_equal(apply(once, operation), image)


def test_flip_moves_a_bright_pixel_left_right_and_flop_top_bottom() -> None:
    image = np.zeros((6, 10, 3), dtype=np.uint8)
    image[1, 2] = (255, 128, 7)
    flipped = apply(image, FlipOp())
    assert tuple(flipped[1, 7]) == (255, 128, 7)
    assert np.count_nonzero(flipped.any(axis=2)) == 1
    flopped = apply(image, FlopOp())
    assert tuple(flopped[4, 2]) == (255, 128, 7)
    assert np.count_nonzero(flopped.any(axis=2)) == 1


def test_flip_and_flop_return_new_contiguous_arrays(photo: np.ndarray) -> None:
    for operation in (FlipOp(), FlopOp()):
        result = apply(photo, operation)
        assert result.flags["C_CONTIGUOUS"] and result.flags["WRITEABLE"]
        assert not np.shares_memory(result, photo)


@pytest.mark.parametrize(("degrees", "turns"), [(90, 1), (-90, -1), (180, 2), (-180, 2)])
def test_right_angle_rotation_with_expand_is_exact_and_counter_clockwise(
    photo: np.ndarray, grey: np.ndarray, degrees: float, turns: int
) -> None:
    for image in (photo, grey):
        rotated = apply(image, RotateOp(degrees=degrees, expand=True))
        assert np.array_equal(rotated, np.rot90(image, k=turns))
    if turns % 2:
        assert apply(photo, RotateOp(degrees=degrees, expand=True)).shape == (64, 48, 3)


def test_rotation_without_expand_keeps_the_size_and_fills_the_corners_black(photo: np.ndarray) -> None:
    white = np.full_like(photo, 255)
    rotated = apply(white, RotateOp(degrees=30))
    assert rotated.shape == photo.shape and rotated.dtype == np.uint8
    for row, column in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert tuple(rotated[row, column]) == (0, 0, 0)
    assert (rotated[20:28, 28:36] == 255).all()
    assert apply(photo, RotateOp(degrees=15)).shape == photo.shape


def test_rotation_with_expand_enlarges_the_canvas(photo: np.ndarray) -> None:
    rotated = apply(photo, RotateOp(degrees=-30, expand=True))
    assert rotated.shape[0] > photo.shape[0] and rotated.shape[1] > photo.shape[1]
    assert tuple(rotated[0, 0]) == (0, 0, 0)


def test_blur_lowers_high_frequencies_and_keeps_the_mean(photo: np.ndarray, grey: np.ndarray) -> None:
    for image in (photo, grey):
        blurred = apply(image, BlurOp())
        more = apply(image, BlurOp(radius=2.5))
        assert blurred.shape == image.shape and blurred.dtype == np.uint8
        assert laplacian_variance(more) < laplacian_variance(blurred) < 0.6 * laplacian_variance(image)
        assert abs(float(blurred.mean()) - float(image.mean())) < 3.0


@pytest.mark.parametrize("operation", ALL_OPS, ids=suffix)
def test_grey_images_stay_2d_and_every_operation_is_deterministic(
    photo: np.ndarray, grey: np.ndarray, operation: Any
) -> None:
    for image in (photo, grey):
        first = apply(image, operation)
        assert first.dtype == np.uint8 and first.ndim == image.ndim
        assert first.tobytes() == apply(image.copy(), operation).tobytes()


def test_images_that_are_not_uint8_rgb_or_grey_are_refused(photo: np.ndarray) -> None:
    for bad in (photo.astype(np.float32), photo[:, :, :2], np.zeros((0, 4, 3), dtype=np.uint8), [[1, 2]]):
        with pytest.raises(InvalidInput, match="image must be an HxWx3 uint8 RGB or HxW uint8 grey array") as caught:
            apply(bad, FlipOp())  # type: ignore[arg-type]
        assert caught.value.field == "image"


def test_default_params_make_five_images_from_one_with_the_original_first(photo: np.ndarray) -> None:
    params = parse_augment_params({})
    assert params.operations == [RotateOp(degrees=15, expand=False), BlurOp(radius=1.0), FlipOp(), FlopOp()]
    assert params.keep_original is True and params.name is None
    items = augment_items(photo, params.operations, keep_original=params.keep_original)
    assert [name for name, _ in items] == [None, "rot15", "blur1", "flip", "flop"]
    assert items[0][1] is photo
    assert all(array.shape == photo.shape for _, array in items)
    assert np.array_equal(items[3][1], np.fliplr(photo))
    without = augment_items(photo, params.operations, keep_original=False)
    assert [name for name, _ in without] == ["rot15", "blur1", "flip", "flop"]


def test_params_round_trip_as_provenance() -> None:
    raw = {
        "operations": [{"op": "rotate", "degrees": -30, "expand": True}, {"op": "blur", "radius": 2.5}],
        "keep_original": False,
        "name": "cats, augmented",
    }
    params = parse_augment_params(raw)
    dumped = params.model_dump(mode="json")
    assert dumped["operations"] == [
        {"op": "rotate", "degrees": -30.0, "expand": True},
        {"op": "blur", "radius": 2.5},
    ]
    assert parse_augment_params(dumped) == params
    assert AugmentParams().operations == parse_augment_params({}).operations


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            {"operations": [{"op": "rotate", "degrees": 0}]},
            "params.operations[0].rotate.degrees",
            "params.operations[0].rotate.degrees: must not be 0: a rotation by 0° only copies the image; "
            "pick an angle such as 15 or -15",
        ),
        (
            {"operations": [{"op": "rotate", "degrees": 181}]},
            "params.operations[0].rotate.degrees",
            "params.operations[0].rotate.degrees: must be ≤ 180 (got 181)",
        ),
        (
            {"operations": [{"op": "blur", "radius": 0}]},
            "params.operations[0].blur.radius",
            "params.operations[0].blur.radius: must be > 0 (got 0)",
        ),
        (
            {"operations": [{"op": "flip"}, {"op": "spin"}]},
            "params.operations[1].op",
            "params.operations[1].op: must be 'rotate', 'blur', 'flip' or 'flop' (got 'spin')",
        ),
        (
            {"operations": [{"degrees": 10}]},
            "params.operations[0].op",
            "params.operations[0].op: is required; one of 'rotate', 'blur', 'flip' or 'flop'",
        ),
        (
            {"operations": [{"op": "flip"}, {"op": "blur"}, {"op": "flip"}]},
            "params.operations[2]",
            "params.operations[2]: repeats operations[0]; each operation makes one copy",
        ),
        (
            {"operations": [{"op": "rotate", "degrees": 180}, {"op": "rotate", "degrees": -180, "expand": True}]},
            "params.operations[1]",
            "params.operations[1]: repeats operations[0]; each operation makes one copy",
        ),
        ({"operations": []}, "params.operations", "params.operations: must have at least 1 item(s) (got 0)"),
        (
            {"operations": [{"op": "blur", "radius": r} for r in range(1, 10)]},
            "params.operations",
            "params.operations: must have at most 8 items (got 9)",
        ),
        (
            {"operations": [{"op": "flip", "axis": 1}]},
            "params.operations[0].flip.axis",
            "params.operations[0].flip.axis: is not a known field; check the spelling or leave it out",
        ),
        ({"keep_original": 1}, "params.keep_original", "params.keep_original: must be true or false (got 1)"),
        ({"name": ""}, "params.name", "params.name: must have at least 1 character(s)"),
        ({"name": "x" * 101}, "params.name", "params.name: must have at most 100 characters"),
    ],
    ids=[
        "zero-degrees",
        "too-many-degrees",
        "zero-radius",
        "unknown-op",
        "missing-op",
        "repeat",
        "half-turns",
        "empty",
        "too-many",
        "extra",
        "keep-original",
        "empty-name",
        "long-name",
    ],
)
def test_invalid_params_name_the_field(raw: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_augment_params(raw)
    assert caught.value.message == message
    assert caught.value.field == field


def test_distinct_rotations_and_blurs_are_accepted() -> None:
    params = parse_augment_params(
        {
            "operations": [
                {"op": "rotate", "degrees": 15},
                {"op": "rotate", "degrees": -15},
                {"op": "rotate", "degrees": 15, "expand": True},
                {"op": "blur", "radius": 1},
                {"op": "blur", "radius": 2.5},
            ]
        }
    )
    suffixes = [suffix(operation) for operation in params.operations]
    assert suffixes == ["rot15", "rot-15", "rot15e", "blur1", "blur2.5"]


@pytest.mark.parametrize(
    ("operation", "text", "short"),
    [
        (RotateOp(), "rotated 15°", "rot15"),
        (RotateOp(degrees=-30), "rotated -30°", "rot-30"),
        (RotateOp(degrees=90, expand=True), "rotated 90° (canvas expanded)", "rot90e"),
        (RotateOp(degrees=12.5), "rotated 12.5°", "rot12.5"),
        (BlurOp(), "blurred (radius 1)", "blur1"),
        (BlurOp(radius=2.5), "blurred (radius 2.5)", "blur2.5"),
        (FlipOp(), "flipped left-right", "flip"),
        (FlopOp(), "flopped top-bottom", "flop"),
    ],
)
def test_describe_and_suffix(operation: Any, text: str, short: str) -> None:
    assert describe(operation) == text
    assert suffix(operation) == short


@pytest.mark.parametrize(
    ("item", "operation", "expected"),
    [
        ("cat.png", RotateOp(), "cat.rot15.png"),
        ("cat.PNG", RotateOp(degrees=-30), "cat.rot-30.PNG"),
        ("cat", RotateOp(), "cat.rot15"),
        ("photo.2024.jpeg", BlurOp(radius=2.5), "photo.2024.blur2.5.jpeg"),
        ("pets/cat.png", FlipOp(), "pets/cat.flip.png"),
        ("v1.0/cat", FlopOp(), "v1.0/cat.flop"),
        (".hidden", FlopOp(), ".hidden.flop"),
    ],
)
def test_derived_name(item: str, operation: Any, expected: str) -> None:
    assert derived_name(item, operation) == expected
