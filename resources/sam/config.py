"""Schemas of a SAM resource version's config and of SAM inference parameters (pydantic, no torch).

The API imports this module to validate uploads and task requests before any worker sees them, so it
must stay free of torch. Validation failures become `InvalidInput` whose message names the field path,
e.g. ``params.auto.points_per_side: must be ≥ 1 (got -3)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from commons.errors import InvalidInput
from resources.schema import WEIGHT_SUFFIXES as WEIGHT_SUFFIXES
from resources.schema import Bool, Float, Int, check_weights_name, field_error, parse_model

Arch = Literal["vit_b", "vit_l", "vit_h", "custom"]
OutputName = Literal["hard", "blended", "json"]
ALL_OUTPUTS: Final[tuple[OutputName, ...]] = ("hard", "blended", "json")
MAX_PROMPTS: Final[int] = 64
MAX_POINTS_PER_SIDE: Final[int] = 64
MAX_CROP_N_LAYERS: Final[int] = 2
FAST_ENCODER_BATCH: Final[int] = 4  # crops per encoder batch of the fast engine: ~0.5 GB of activations each (vit_b)
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
        return check_weights_name(value)

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
                    raise field_error(
                        name,
                        f"is fixed at {fixed} for arch '{self.arch}' (got {given}); leave it out or use arch 'custom'",
                    )
            return self
        for name in _ENCODER_FIELDS:
            if getattr(self, name) is None:
                raise field_error(name, "is required when arch is 'custom'")
        encoder = self.encoder()
        if encoder.embed_dim % encoder.num_heads:
            raise field_error(
                "encoder_embed_dim",
                f"must be a multiple of encoder_num_heads ({encoder.num_heads}) (got {encoder.embed_dim})",
            )
        for position, index in enumerate(encoder.global_attn_indexes):
            if not 0 <= index < encoder.depth:
                raise field_error(
                    f"encoder_global_attn_indexes[{position}]",
                    f"must be ≥ 0 and < encoder_depth ({encoder.depth}) (got {index})",
                )
        if len(set(encoder.global_attn_indexes)) != len(encoder.global_attn_indexes):
            raise field_error("encoder_global_attn_indexes", "must not repeat a block index")
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

    # Bounded (64 points a side, 2 crop layers): the work grows with points_per_side² × the crops (1 + 4 + 16);
    # resources.sam.cost bounds the product, weighted by the photo's size, per deployment.
    points_per_side: Int = Field(default=32, ge=1, le=MAX_POINTS_PER_SIDE)
    points_per_batch: Int = Field(default=64, ge=1, le=1024)
    pred_iou_thresh: Float = Field(default=0.88, ge=0.0, le=1.0)
    stability_score_thresh: Float = Field(default=0.95, ge=0.0, le=1.0)
    stability_score_offset: Float = Field(default=1.0, gt=0.0, le=10.0)
    box_nms_thresh: Float = Field(default=0.7, ge=0.0, le=1.0)
    crop_n_layers: Int = Field(default=0, ge=0, le=MAX_CROP_N_LAYERS)
    crop_nms_thresh: Float = Field(default=0.7, ge=0.0, le=1.0)
    crop_overlap_ratio: Float = Field(default=512 / 1500, ge=0.0, lt=1.0)
    crop_n_points_downscale_factor: Int = Field(default=1, ge=1, le=8)
    min_mask_region_area: Int = Field(default=0, ge=0, le=10**7)
    # "fast" (the default): resources.sam.fast, the same grid, cut-offs, NMS and crops as the library's generator,
    # with the per-mask work batched and the encoder's attention fused (the same masks, IoU ≥ 0.99:
    # tests/resources/test_sam_fast.py, tests/api/test_parity.py); "reference": SamAutomaticMaskGenerator itself.
    engine: Literal["reference", "fast"] = "fast"

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `SamAutomaticMaskGenerator(model, **kwargs)`."""
        return self.model_dump(exclude={"engine"})


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
    # "reference": SamPredictor.predict (PyTorch); "fast": the decoder as an ONNX graph in ONNX Runtime, the graph
    # the Segment page runs (resources/sam/prompt_fast.py; the same masks: tests/resources/test_sam_prompt_fast.py).
    engine: Literal["reference", "fast"] = "reference"

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if not self.points and not self.boxes:
            raise field_error("points", "give at least one point or one box")
        for index, (x0, y0, x1, y1) in enumerate(self.boxes):
            if not (x0 < x1 and y0 < y1):
                raise field_error(
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
            raise field_error("prompt", "is required when mode is 'prompt'")
        if self.mode == "auto" and self.prompt is not None:
            raise field_error("prompt", "is only used when mode is 'prompt'; set mode or leave prompt out")
        return self


DECODER_OPSETS: Final[tuple[int, int]] = (16, 20)  # segment-anything's scripts/export_onnx_model.py: 17 by default


class SamExportParams(BaseModel):
    """An `export` task: SAM's prompt encoder and mask decoder as one ONNX graph (`decoder.onnx`), the graph
    segment-anything's `SamOnnxModel` wraps (one mask per prompt, any number of points), for in-browser decoding."""

    model_config = ConfigDict(extra="forbid")

    opset: Int = Field(default=17, ge=DECODER_OPSETS[0], le=DECODER_OPSETS[1])


class SamEmbedParams(BaseModel):
    """An `embed` task: one photo's image embedding (`embedding.bin`, `embedding.json`); it takes no parameters."""

    model_config = ConfigDict(extra="forbid")


def parse_export_params(raw: Mapping[str, Any]) -> SamExportParams:
    return parse_model(SamExportParams, raw, prefix="params")


def parse_embed_params(raw: Mapping[str, Any]) -> SamEmbedParams:
    return parse_model(SamEmbedParams, raw, prefix="params")


def parse_infer_params(raw: Mapping[str, Any]) -> SamInferParams:
    """Validate request parameters; errors become InvalidInput naming `params.<path>`."""
    return parse_model(SamInferParams, raw, prefix="params")


def parse_sam_config(raw: Mapping[str, Any]) -> SamConfig:
    """Validate a version's config.json; errors become InvalidInput naming `config.<path>`."""
    return parse_model(SamConfig, raw, prefix="config")
