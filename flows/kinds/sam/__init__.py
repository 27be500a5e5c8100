"""`segmenter.sam`: Segment Anything (ViT-B/L/H or a small config), masks from points, boxes or automatically."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from flows.kinds.sam.embed import embed_sam
from flows.kinds.sam.export import export_sam
from flows.kinds.sam.infer import infer_sam
from flows.kinds.spec import Inputs, KindSpec, MemoryRequest, ModeSpec, ParamsRequest
from registry.vocabulary import Mode
from resources.cost import MemoryEstimate
from resources.sam.config import parse_embed_params, parse_export_params, parse_infer_params, parse_sam_config


def _infer_params(request: ParamsRequest) -> BaseModel:
    """The prompt's points and boxes lie inside every photo they are asked of."""
    params = parse_infer_params(request.raw)
    if params.mode == "prompt" and params.prompt is not None:
        for upload in request.inputs:
            params.prompt.check_inside(upload.width, upload.height)
    return params


def _export_params(request: ParamsRequest) -> BaseModel:
    return parse_export_params(request.raw)


def _embed_params(request: ParamsRequest) -> BaseModel:
    return parse_embed_params(request.raw)


def _check_weights(path: Path, config: BaseModel) -> None:
    from resources.sam.model import check_weights_file

    check_weights_file(path, config=config)  # type: ignore[arg-type]  # parse_config made it a SamConfig


def _memory(request: MemoryRequest) -> MemoryEstimate | None:
    """The image encoder's peak at upload; for a task, the largest photo's, and automatic masks are refused when
    their work on a photo is over COMMONS_SAM_MAX_WORK_PER_PHOTO."""
    from resources.sam.cost import check_sam_work, encoder_memory, sam_memory

    config = parse_sam_config(request.config)
    if request.params is None or request.mode != Mode.INFER:
        return encoder_memory(config)  # embed: the encoder once; export: less (the decoder alone, on the CPU)
    params = parse_infer_params(request.params)
    if params.mode == "auto":
        photos = [(upload.name, upload.width, upload.height) for upload in request.inputs]
        check_sam_work(params.auto, photos=photos, budget=request.settings.sam_max_work_per_photo)
    largest = max(request.inputs, key=lambda upload: upload.width * upload.height, default=None)
    if largest is None:
        return encoder_memory(config)
    return sam_memory(config, params, width=largest.width, height=largest.height)


def _warm_up() -> None:
    import segment_anything  # noqa: F401
    import torch  # noqa: F401

    import resources.sam.infer
    import resources.sam.render  # noqa: F401


KIND = KindSpec(
    name="segmenter.sam",
    parse_config=parse_sam_config,
    check_weights=_check_weights,
    memory=_memory,
    warm_up=_warm_up,
    modes={
        Mode.INFER: ModeSpec(infer_sam, _infer_params, Inputs.UPLOADS, warm=True),
        # The Segment page's in-browser decoding: the decoder once per version, an embedding per photo.
        Mode.EXPORT: ModeSpec(export_sam, _export_params, Inputs.NONE, warm=True),
        Mode.EMBED: ModeSpec(embed_sam, _embed_params, Inputs.UPLOADS, max_inputs=1, warm=True),
    },
)
