"""What a SAM task will cost before it runs: its peak activation memory and the work of automatic masks.

Why: SAM's automatic mask generator runs the mask decoder once per prompt point of a grid of
points_per_side² points, on the whole photo and on every crop of `crop_n_layers` layers (1 + 4 + 16 crops),
and upscales each point's 3 masks to the size of its crop. points_per_side 32 on a 64-px photo already ran for
350 s on a CPU worker; 128 with 3 crop layers is 86 times that. The API refuses, before anything is stored,
what exceeds the deployment's budgets (`COMMONS_SAM_MAX_WORK_PER_PHOTO`, the lanes' activation budgets).

Work is counted in *point passes*: one prompt point through the mask decoder (a constant) plus its masks
upscaled to its crop, one pass per megapixel of the crop. So a point on a 1-megapixel crop costs 2 passes, on a
12-megapixel photo 12.4. Crops follow `segment_anything.utils.amg.generate_crop_boxes`; points per crop
layer follow `build_all_layer_point_grids` (points_per_side / crop_n_points_downscale_factor^layer).

Memory (float32, about): the ViT encoder's largest block, on the 1024x1024 padded input (64x64 tokens): a
global-attention block holds two heads x tokens² score maps (scores, softmax), a windowed one 25 windows of
14x14 tokens; the MLP holds tokens x 4·embed_dim twice. Each prompt point of a batch adds its 3 masks at
1024x1024 (the first upscaling) and at the photo's size (float32, and its copy when the generator filters the
batch: 8 bytes a pixel; thresholds and stability counts are smaller and left out). The `fast` engine encodes up
to `FAST_ENCODER_BATCH` crops of a photo at once, so its encoder part is that many times one crop's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from commons.errors import InvalidInput
from resources.cost import FLOAT32_BYTES, MemoryEstimate
from resources.sam.config import FAST_ENCODER_BATCH, AutoParams, SamConfig, SamInferParams

ENCODER_TOKENS_SIDE: Final[int] = 64  # 1024 px / 16 px patches
WINDOW: Final[int] = 14
MASKS_PER_POINT: Final[int] = 3
LOW_RES_SIDE: Final[int] = 1024  # masks are first upscaled to the model's 1024x1024 input
BYTES_PER_PHOTO_PIXEL: Final[int] = 8  # the float32 mask at the photo's size and its copy when filtered
MEGAPIXEL: Final[int] = 1024 * 1024


@dataclass(frozen=True)
class SamWork:
    """Automatic masks on one photo: crops (whole photo included), prompt points over them, point passes."""

    crops: int
    points: int
    passes: float


def encoder_peak_bytes(config: SamConfig) -> int:
    """Peak activation bytes of the image encoder on one photo (see the module docstring)."""
    encoder = config.encoder()
    tokens = ENCODER_TOKENS_SIDE**2
    padded = math.ceil(ENCODER_TOKENS_SIDE / WINDOW) * WINDOW
    windows = (padded // WINDOW) ** 2
    window_scores = 2 * encoder.num_heads * windows * (WINDOW**2) ** 2
    global_scores = 2 * encoder.num_heads * tokens**2 if encoder.global_attn_indexes else 0
    attention = max(window_scores, global_scores) + 3 * tokens * encoder.embed_dim
    mlp = 2 * tokens * 4 * encoder.embed_dim
    residual = tokens * encoder.embed_dim
    return (max(attention, mlp) + residual) * FLOAT32_BYTES


def encoder_memory(config: SamConfig) -> MemoryEstimate:
    """The image encoder alone (what every SAM task needs, whatever the photo): the upload-time check."""
    encoder = config.encoder()
    where = (
        f"SAM's image encoder ({encoder.num_heads} heads, embed_dim {encoder.embed_dim}, attention over "
        f"{ENCODER_TOKENS_SIDE}x{ENCODER_TOKENS_SIDE} tokens)"
    )
    advice = "use fewer encoder_num_heads or a smaller encoder_embed_dim"
    return MemoryEstimate(encoder_peak_bytes(config), 0, 1, where, "config.encoder_num_heads", advice)


def sam_memory(config: SamConfig, params: SamInferParams, *, width: int, height: int) -> MemoryEstimate:
    """Peak activation memory of a SAM task on a width x height photo: the encoder, then a batch of prompts
    (`points_per_batch` in auto mode, one box at a time with prompts)."""
    per_point = MASKS_PER_POINT * (LOW_RES_SIDE**2 * FLOAT32_BYTES + width * height * BYTES_PER_PHOTO_PIXEL)
    encoders = 1
    if params.mode == "auto" and params.auto.engine == "fast":  # crops encoded together
        encoders = min(FAST_ENCODER_BATCH, len(crop_sizes(params.auto, width=width, height=height)))
    fixed = encoders * encoder_peak_bytes(config) + width * height * 3
    where = f"SAM's masks on the {width}x{height} photo ({show_pixels(width * height)})"
    if params.mode == "auto":
        batch = params.auto.points_per_batch
        advice = "lower params.auto.points_per_batch or use a smaller photo"
        return MemoryEstimate(
            fixed, per_point, batch, where, "params.auto.points_per_batch", advice, "params.auto.points_per_batch"
        )
    return MemoryEstimate(fixed, per_point, 1, where, "inputs", "use a smaller photo", "inputs")


def show_pixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} megapixels"


def crop_sizes(params: AutoParams, *, width: int, height: int) -> list[tuple[int, int, int]]:
    """(layer, crop width, crop height) of every crop, the whole photo first, as the generator makes them."""
    crops = [(0, width, height)]
    short = min(width, height)
    for layer in range(1, params.crop_n_layers + 1):
        per_side = 2**layer
        overlap = int(params.crop_overlap_ratio * short * (2 / per_side))
        crop_w = math.ceil((overlap * (per_side - 1) + width) / per_side)
        crop_h = math.ceil((overlap * (per_side - 1) + height) / per_side)
        for column in range(per_side):  # the library's order: columns outer, rows inner
            for row in range(per_side):
                x0, y0 = (crop_w - overlap) * column, (crop_h - overlap) * row
                crops.append((layer, min(x0 + crop_w, width) - x0, min(y0 + crop_h, height) - y0))
    return crops


def sam_work(params: AutoParams, *, width: int, height: int) -> SamWork:
    """Crops, prompt points and point passes of automatic masks on a width x height photo."""
    points = passes = 0.0
    crops = crop_sizes(params, width=width, height=height)
    for layer, crop_w, crop_h in crops:
        grid = int(params.points_per_side / params.crop_n_points_downscale_factor**layer) ** 2
        points += grid
        passes += grid * (1 + crop_w * crop_h / MEGAPIXEL)
    return SamWork(crops=len(crops), points=int(points), passes=passes)


def check_sam_work(params: AutoParams, *, photos: list[tuple[str, int, int]], budget: float) -> None:
    """Refuse automatic masks whose work on one of `photos` ((name, width, height)) is over `budget` point
    passes (COMMONS_SAM_MAX_WORK_PER_PHOTO), naming the parameters and the photo."""
    for name, width, height in photos:
        work = sam_work(params, width=width, height=height)
        if work.passes <= budget:
            continue
        raise InvalidInput(
            f"params.auto: points_per_side {params.points_per_side} with crop_n_layers {params.crop_n_layers} on the "
            f"{width}x{height} photo {name!r} means {work.crops} crop(s) and {work.points:,} prompt points, about "
            f"{work.passes:,.0f} point passes; the budget is {budget:,.0f} per photo "
            "(COMMONS_SAM_MAX_WORK_PER_PHOTO): lower points_per_side or crop_n_layers, raise "
            "crop_n_points_downscale_factor, or use a smaller photo",
            field="params.auto.points_per_side",
        )
