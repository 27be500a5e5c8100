"""Dataset augmentation: from each image, transformed copies that expand a dataset (PIL + numpy, no torch).

An augmentation task runs a list of operations over every image of a source dataset; each operation
makes one copy of each image. With the default operations and the original kept, one image gives five:
the original, rotated 15°, blurred (radius 1), flipped left-right and flopped top-bottom::

    {"operations": [{"op": "rotate", "degrees": 15, "expand": false},
                    {"op": "blur", "radius": 1.0},
                    {"op": "flip"},
                    {"op": "flop"}],
     "keep_original": true,
     "name": null}

Arrays are HxWx3 uint8 RGB (row-major, what `commons.image_io.decode_image` returns) or HxW uint8 grey;
every operation returns the same dtype and channel layout (a grey image stays 2-D).

- ``rotate``: `degrees` in [-180, 180], not 0; positive is counter-clockwise (PIL's convention) about the
  image centre, with bilinear resampling. ``expand: false`` keeps the width and height, cutting off the
  corners that leave the frame and filling the uncovered corners black; ``expand: true`` enlarges the
  canvas to hold the whole rotated image (the new area is black too). ±90° with expand and 180° are exact
  pixel permutations (``np.rot90``).
- ``blur``: Gaussian blur (PIL ``GaussianBlur``) with `radius` in (0, 20] pixels (the standard deviation).
- ``flip``: mirror left-right; ``flop``: mirror top-bottom. Both are exact: applied twice they give the
  original back bit for bit.

Every operation is deterministic: the same image and operation give the same bytes. A copy's item name is
the source item's name with the operation's suffix inserted before the extension (`derived_name`:
``cat.png`` rotated 15° → ``cat.rot15.png``). The derived dataset records the operation list and its
parameters (``AugmentParams.model_dump(mode="json")``) and the source dataset in its provenance, so that it
can be told apart from, and remade from, its source.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal

import numpy as np
from PIL import Image, ImageFilter
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from commons.errors import InvalidInput
from resources.schema import Bool, Float, field_error, parse_model

OP_NAMES: Final[tuple[str, ...]] = ("rotate", "blur", "flip", "flop")
MAX_OPERATIONS: Final[int] = 8
DatasetName = Annotated[str, Strict(), Field(min_length=1, max_length=100)]


class RotateOp(BaseModel):
    """Rotate by `degrees` counter-clockwise about the centre; `expand` False keeps the size (black corners)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["rotate"] = "rotate"
    degrees: Float = Field(default=15.0, ge=-180.0, le=180.0)
    expand: Bool = False

    @field_validator("degrees")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("must not be 0: a rotation by 0° only copies the image; pick an angle such as 15 or -15")
        return float(value)


class BlurOp(BaseModel):
    """Gaussian blur with `radius` (the standard deviation, in pixels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["blur"] = "blur"
    radius: Float = Field(default=1.0, gt=0.0, le=20.0)

    @field_validator("radius")
    @classmethod
    def _as_float(cls, value: float) -> float:
        return float(value)


class FlipOp(BaseModel):
    """Mirror left-right."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["flip"] = "flip"


class FlopOp(BaseModel):
    """Mirror top-bottom."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["flop"] = "flop"


Operation = Annotated[RotateOp | BlurOp | FlipOp | FlopOp, Field(discriminator="op")]
AnyOperation = RotateOp | BlurOp | FlipOp | FlopOp


def default_operations() -> list[AnyOperation]:
    """rotate 15° (size kept), blur radius 1, flip, flop: four copies per image."""
    return [RotateOp(), BlurOp(), FlipOp(), FlopOp()]


class AugmentParams(BaseModel):
    """What an augmentation task asks for: the operations (each makes one copy of every image), whether the
    original images are part of the derived dataset, and its name (None: the caller names it
    ``"<source> (augmented)"``)."""

    model_config = ConfigDict(extra="forbid")

    operations: list[Operation] = Field(default_factory=default_operations, min_length=1, max_length=MAX_OPERATIONS)
    keep_original: Bool = True
    name: DatasetName | None = None

    @field_validator("operations", mode="before")
    @classmethod
    def _known_ops(cls, value: Any) -> Any:
        # Before pydantic's tagged union, so that an unknown or missing "op" names the allowed ones.
        if not isinstance(value, list):
            return value
        allowed = _allowed_text()
        for index, entry in enumerate(value):
            if not isinstance(entry, Mapping):
                continue
            if "op" not in entry:
                raise field_error(f"[{index}].op", f"is required; one of {allowed}")
            if not (isinstance(entry["op"], str) and entry["op"] in OP_NAMES):
                raise field_error(f"[{index}].op", f"must be {allowed} (got {_shown(entry['op'])})")
        return value

    @field_validator("operations")
    @classmethod
    def _distinct(cls, value: list[AnyOperation]) -> list[AnyOperation]:
        seen: dict[tuple[Any, ...], int] = {}
        for index, operation in enumerate(value):
            key = _effect(operation)
            if key in seen:
                raise field_error(f"[{index}]", f"repeats operations[{seen[key]}]; each operation makes one copy")
            seen[key] = index
        return value

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank; leave it out to get '<source> (augmented)'")
        return value


def parse_augment_params(raw: Mapping[str, Any]) -> AugmentParams:
    """Validate a request body; errors become InvalidInput naming ``params.<path>``, for example
    ``params.operations[0].rotate.degrees`` (the op name is part of the path)."""
    return parse_model(AugmentParams, raw, prefix="params")


def apply(image: np.ndarray, operation: AnyOperation) -> np.ndarray:
    """`operation` applied to `image` (HxWx3 uint8 RGB or HxW uint8 grey): a new array of the same dtype and
    channels. Its height and width are the input's, except rotate with expand (the canvas that holds the
    rotated image). InvalidInput (field "image") for any other array."""
    _check_image(image)
    if isinstance(operation, FlipOp):
        return np.ascontiguousarray(np.fliplr(image))
    if isinstance(operation, FlopOp):
        return np.ascontiguousarray(np.flipud(image))
    picture = Image.fromarray(np.ascontiguousarray(image))
    if isinstance(operation, RotateOp):
        fill: int | tuple[int, int, int] = 0 if image.ndim == 2 else (0, 0, 0)
        result = picture.rotate(
            operation.degrees, resample=Image.Resampling.BILINEAR, expand=operation.expand, fillcolor=fill
        )
    elif isinstance(operation, BlurOp):
        result = picture.filter(ImageFilter.GaussianBlur(operation.radius))
    else:
        raise TypeError(f"not an augmentation operation: {operation!r}")
    return np.array(result, dtype=np.uint8)


def augment_items(
    image: np.ndarray, operations: Sequence[AnyOperation], *, keep_original: bool
) -> list[tuple[str | None, np.ndarray]]:
    """``(suffix, array)`` per output image, in order: ``(None, image)`` first when `keep_original` (the
    input array itself, not a copy), then one ``(suffix(op), apply(image, op))`` per operation."""
    _check_image(image)
    items: list[tuple[str | None, np.ndarray]] = [(None, image)] if keep_original else []
    items.extend((suffix(operation), apply(image, operation)) for operation in operations)
    return items


def describe(operation: AnyOperation) -> str:
    """Short human text: "rotated 15°", "rotated -30° (canvas expanded)", "blurred (radius 1)",
    "flipped left-right", "flopped top-bottom"."""
    if isinstance(operation, RotateOp):
        return f"rotated {_number(operation.degrees)}°" + (" (canvas expanded)" if operation.expand else "")
    if isinstance(operation, BlurOp):
        return f"blurred (radius {_number(operation.radius)})"
    if isinstance(operation, FlipOp):
        return "flipped left-right"
    return "flopped top-bottom"


def suffix(operation: AnyOperation) -> str:
    """The part of a copy's item name that names the operation: "rot15", "rot-30", "rot90e" (expand),
    "blur1", "blur2.5", "flip", "flop". Distinct operations of one `AugmentParams` have distinct suffixes."""
    if isinstance(operation, RotateOp):
        return f"rot{_number(operation.degrees)}" + ("e" if operation.expand else "")
    if isinstance(operation, BlurOp):
        return f"blur{_number(operation.radius)}"
    return operation.op


def derived_name(item_name: str, operation: AnyOperation) -> str:
    """The copy's item name: the suffix inserted before the extension ("cat.png" → "cat.rot15.png",
    "a/cat.jpeg" → "a/cat.flip.jpeg"), or appended without one ("cat" → "cat.rot15", ".hidden" →
    ".hidden.rot15")."""
    stem, extension = posixpath.splitext(item_name)
    return f"{stem}.{suffix(operation)}{extension}"


def _check_image(image: object) -> None:
    if not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))
        and image.shape[0] > 0
        and image.shape[1] > 0
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InvalidInput(
            f"image must be an HxWx3 uint8 RGB or HxW uint8 grey array, got shape {shape} and dtype {dtype}",
            field="image",
        )


def _effect(operation: AnyOperation) -> tuple[Any, ...]:
    """Operations with the same key make the same copy (rotations by 180° and -180° included)."""
    if isinstance(operation, RotateOp):
        turn = operation.degrees % 360.0
        return (operation.op, turn, operation.expand and turn != 180.0)  # a half turn never changes the size
    if isinstance(operation, BlurOp):
        return (operation.op, operation.radius)
    return (operation.op,)


def _number(value: float) -> str:
    """15.0 → "15", 2.5 → "2.5", -30.0 → "-30": exact (repr), so distinct values read differently."""
    return str(int(value)) if value.is_integer() else repr(value)


def _allowed_text() -> str:
    quoted = [repr(name) for name in OP_NAMES]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
