"""Schemas of a SAM resource version's config and of SAM inference parameters (pydantic, no torch).

The API imports this module to validate uploads and task requests before any worker sees them, so it
must stay free of torch. Validation failures become `InvalidInput` whose message names the field path,
e.g. ``params.auto.points_per_side: must be ≥ 1 (got -3)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Self, TypeVar

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from commons.errors import InvalidInput

# Strict scalars: JSON true is not 1, "12" is not 12; an int is still accepted where a float is wanted.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), AllowInfNan(False)]
Bool = Annotated[bool, Strict()]
Arch = Literal["vit_b", "vit_l", "vit_h", "custom"]
OutputName = Literal["hard", "blended", "json"]
ALL_OUTPUTS: Final[tuple[OutputName, ...]] = ("hard", "blended", "json")
WEIGHT_SUFFIXES: Final[tuple[str, ...]] = (".safetensors", ".pth", ".pt")
MAX_PROMPTS: Final[int] = 64
_CHECKPOINT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_Model = TypeVar("_Model", bound=BaseModel)
_ENCODER_FIELDS: Final[tuple[str, ...]] = (
    "encoder_embed_dim",
    "encoder_depth",
    "encoder_num_heads",
    "encoder_global_attn_indexes",
)


@dataclass(frozen=True)
class EncoderParams:
    """The ViT image encoder's shape: what `segment_anything.build_sam._build_sam` takes."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]


STANDARD_ENCODERS: Final[dict[str, EncoderParams]] = {
    "vit_b": EncoderParams(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": EncoderParams(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": EncoderParams(1280, 32, 16, (7, 15, 23, 31)),
}


def _field_error(field: str, reason: str) -> PydanticCustomError:
    """An error raised by a model validator that still names the field it is about."""
    return PydanticCustomError("field_error", "{field}: {reason}", {"field": field, "reason": reason})


class SamConfig(BaseModel):
    """`config.json` of a SAM resource version: the architecture and the weights file's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: Arch
    checkpoint: str
    encoder_embed_dim: Int | None = Field(default=None, ge=16, le=2048)
    encoder_depth: Int | None = Field(default=None, ge=1, le=64)
    encoder_num_heads: Int | None = Field(default=None, ge=1, le=32)
    encoder_global_attn_indexes: list[Int] | None = Field(default=None, max_length=64)

    @field_validator("checkpoint")
    @classmethod
    def _plain_weights_name(cls, value: str) -> str:
        if not _CHECKPOINT_NAME.fullmatch(value):
            raise ValueError(f"must be a plain file name (letters, digits, '.', '_', '-', no folders), got {value!r}")
        if not value.lower().endswith(WEIGHT_SUFFIXES):
            raise ValueError(f"must end in .safetensors, .pth or .pt (got {value!r})")
        return value

    @model_validator(mode="after")
    def _encoder_fits_arch(self) -> Self:
        if self.arch != "custom":
            standard = STANDARD_ENCODERS[self.arch]
            expected: tuple[Any, ...] = (
                standard.embed_dim,
                standard.depth,
                standard.num_heads,
                list(standard.global_attn_indexes),
            )
            for name, fixed in zip(_ENCODER_FIELDS, expected, strict=True):
                given = getattr(self, name)
                if given is not None and given != fixed:
                    raise _field_error(
                        name,
                        f"is fixed at {fixed} for arch '{self.arch}' (got {given}); leave it out or use arch 'custom'",
                    )
            return self
        for name in _ENCODER_FIELDS:
            if getattr(self, name) is None:
                raise _field_error(name, "is required when arch is 'custom'")
        encoder = self.encoder()
        if encoder.embed_dim % encoder.num_heads:
            raise _field_error(
                "encoder_embed_dim",
                f"must be a multiple of encoder_num_heads ({encoder.num_heads}) (got {encoder.embed_dim})",
            )
        for position, index in enumerate(encoder.global_attn_indexes):
            if not 0 <= index < encoder.depth:
                raise _field_error(
                    f"encoder_global_attn_indexes[{position}]",
                    f"must be ≥ 0 and < encoder_depth ({encoder.depth}) (got {index})",
                )
        if len(set(encoder.global_attn_indexes)) != len(encoder.global_attn_indexes):
            raise _field_error("encoder_global_attn_indexes", "must not repeat a block index")
        return self

    def encoder(self) -> EncoderParams:
        """The resolved encoder shape: the standard one for vit_b/l/h, the given one for custom."""
        if self.arch != "custom":
            return STANDARD_ENCODERS[self.arch]
        if (
            self.encoder_embed_dim is None
            or self.encoder_depth is None
            or self.encoder_num_heads is None
            or self.encoder_global_attn_indexes is None
        ):
            raise InvalidInput("a custom SAM config needs every encoder_* field", field="config")
        return EncoderParams(
            self.encoder_embed_dim,
            self.encoder_depth,
            self.encoder_num_heads,
            tuple(self.encoder_global_attn_indexes),
        )


class AutoParams(BaseModel):
    """Every `SamAutomaticMaskGenerator` knob, with the library's defaults (tuned for vit_h)."""

    model_config = ConfigDict(extra="forbid")

    points_per_side: Int = Field(default=32, ge=1, le=128)
    points_per_batch: Int = Field(default=64, ge=1, le=1024)
    pred_iou_thresh: Float = Field(default=0.88, ge=0.0, le=1.0)
    stability_score_thresh: Float = Field(default=0.95, ge=0.0, le=1.0)
    stability_score_offset: Float = Field(default=1.0, gt=0.0, le=10.0)
    box_nms_thresh: Float = Field(default=0.7, ge=0.0, le=1.0)
    crop_n_layers: Int = Field(default=0, ge=0, le=3)
    crop_nms_thresh: Float = Field(default=0.7, ge=0.0, le=1.0)
    crop_overlap_ratio: Float = Field(default=512 / 1500, ge=0.0, lt=1.0)
    crop_n_points_downscale_factor: Int = Field(default=1, ge=1, le=8)
    min_mask_region_area: Int = Field(default=0, ge=0, le=10**7)

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `SamAutomaticMaskGenerator(model, **kwargs)`."""
        return self.model_dump()


Label = Annotated[int, Strict(), Field(ge=0, le=1)]  # 1 = foreground, 0 = background
Point = tuple[Float, Float, Label]
Box = tuple[Float, Float, Float, Float]


class PromptParams(BaseModel):
    """Prompts in pixel coordinates of the original (EXIF-oriented) photo.

    points: [x, y, label] with label 1 = foreground, 0 = background; boxes: [x0, y0, x1, y1] (XYXY).
    """

    model_config = ConfigDict(extra="forbid")

    points: list[Point] = Field(default_factory=list, max_length=MAX_PROMPTS)
    boxes: list[Box] = Field(default_factory=list, max_length=MAX_PROMPTS)
    multimask: Bool = True

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if not self.points and not self.boxes:
            raise _field_error("points", "give at least one point or one box")
        for index, (x0, y0, x1, y1) in enumerate(self.boxes):
            if not (x0 < x1 and y0 < y1):
                raise _field_error(
                    f"boxes[{index}]", f"must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1 (got {[x0, y0, x1, y1]})"
                )
        return self

    def check_inside(self, width: int, height: int) -> None:
        """Raise InvalidInput naming the first prompt outside a width x height photo.

        Points need 0 ≤ x < width and 0 ≤ y < height; box edges may lie on the border (x1 ≤ width).
        """
        for index, (x, y, _label) in enumerate(self.points):
            if not (0 <= x < width and 0 <= y < height):
                field = f"params.prompt.points[{index}]"
                raise InvalidInput(
                    f"{field}: point (x={x:g}, y={y:g}) is outside the {width}x{height} photo; "
                    f"points need 0 ≤ x < {width} and 0 ≤ y < {height} in pixels of the original photo",
                    field=field,
                )
        for index, (x0, y0, x1, y1) in enumerate(self.boxes):
            if not (x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height):
                field = f"params.prompt.boxes[{index}]"
                raise InvalidInput(
                    f"{field}: box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] reaches outside the {width}x{height} "
                    f"photo; boxes need 0 ≤ x0 < x1 ≤ {width} and 0 ≤ y0 < y1 ≤ {height}",
                    field=field,
                )


class SamInferParams(BaseModel):
    """What a SAM inference task asks for: automatic masks or prompts, and which outputs to write."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "prompt"] = "auto"
    outputs: list[OutputName] = Field(default_factory=lambda: list(ALL_OUTPUTS), min_length=1)
    auto: AutoParams = Field(default_factory=AutoParams)
    prompt: PromptParams | None = None
    seed: Int = Field(default=0, ge=0, le=2**32 - 1)

    @field_validator("outputs")
    @classmethod
    def _deduplicate(cls, value: list[OutputName]) -> list[OutputName]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _prompt_matches_mode(self) -> Self:
        if self.mode == "prompt" and self.prompt is None:
            raise _field_error("prompt", "is required when mode is 'prompt'")
        if self.mode == "auto" and self.prompt is not None:
            raise _field_error("prompt", "is only used when mode is 'prompt'; set mode or leave prompt out")
        return self


def parse_infer_params(raw: Mapping[str, Any]) -> SamInferParams:
    """Validate request parameters; errors become InvalidInput naming `params.<path>`."""
    return _parse(SamInferParams, raw, prefix="params")


def parse_sam_config(raw: Mapping[str, Any]) -> SamConfig:
    """Validate a version's config.json; errors become InvalidInput naming `config.<path>`."""
    return _parse(SamConfig, raw, prefix="config")


def _parse(model: type[_Model], raw: Mapping[str, Any], *, prefix: str) -> _Model:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{prefix} must be a JSON object (got {type(raw).__name__})", field=prefix)
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = [_describe(error, prefix) for error in exc.errors()]
        shown = "; ".join(message for _, message in problems[:5])
        if len(problems) > 5:
            shown += f" (and {len(problems) - 5} more)"
        raise InvalidInput(shown, field=problems[0][0]) from None


def _describe(error: ErrorDetails, prefix: str) -> tuple[str, str]:
    """(field path, 'path: reason') for one pydantic error."""
    path = prefix
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    ctx = error.get("ctx", {})
    if error["type"] == "field_error":
        return _join(path, str(ctx["field"])), f"{_join(path, str(ctx['field']))}: {ctx['reason']}"
    return path, f"{path}: {_reason(error['type'], ctx, error.get('input'), error['msg'])}"


def _join(path: str, field: str) -> str:
    return path + (field if field.startswith("[") else f".{field}")


def _reason(kind: str, ctx: dict[str, Any], given: Any, fallback: str) -> str:
    shown = _show(given)
    templates = {
        "missing": "is required",
        "extra_forbidden": "is not a known field; check the spelling or leave it out",
        "greater_than_equal": f"must be ≥ {_bound(ctx.get('ge'))} (got {shown})",
        "greater_than": f"must be > {_bound(ctx.get('gt'))} (got {shown})",
        "less_than_equal": f"must be ≤ {_bound(ctx.get('le'))} (got {shown})",
        "less_than": f"must be < {_bound(ctx.get('lt'))} (got {shown})",
        "literal_error": f"must be {ctx.get('expected')} (got {shown})",
        "too_short": f"must have at least {ctx.get('min_length')} item(s) (got {ctx.get('actual_length')})",
        "too_long": f"must have at most {ctx.get('max_length')} items (got {ctx.get('actual_length')})",
        "finite_number": f"must be a finite number (got {shown})",
        "string_too_short": f"must have at least {ctx.get('min_length')} character(s)",
        "string_too_long": f"must have at most {ctx.get('max_length')} characters",
    }
    if kind in templates:
        return templates[kind]
    for stem, wanted in (
        ("int_", "an integer"),
        ("float_", "a number"),
        ("bool_", "true or false"),
        ("string_", "a string"),
        ("list_", "a list"),
        ("tuple_", "a list"),
        ("dict_", "an object"),
        ("model_", "an object"),
    ):
        if kind.startswith(stem):
            return f"must be {wanted} (got {shown})"
    message = fallback.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _bound(value: Any) -> str:
    """1.0 → "1", 0.5 → "0.5": limits read as written in the docs."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
