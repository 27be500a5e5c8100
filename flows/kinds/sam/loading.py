"""The version's SAM for a task: on the task's device, perhaps the warm worker's cached copy."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from commons.errors import InvalidWeights
from flows.steps import model_cache
from flows.steps.model_cache import cached_model
from flows.steps.prepare import Prepared

if TYPE_CHECKING:
    from segment_anything.modeling import Sam

    from resources.sam.config import SamConfig
    from resources.sam.fast.encoder import FastEncoder
    from resources.sam.prompt_fast import PromptDecoder


def load_sam(prepared: Prepared, config: SamConfig) -> Sam:
    """The version's SAM on the task's device (perhaps the warm worker's cached copy); records `model_load_s`."""
    from resources.sam.model import build_sam

    weights = prepared.weights.get(config.checkpoint)
    if weights is None:
        raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
    with prepared.timed("model_load"):
        sam = cached_model(
            digest=prepared.version_record.digest,
            device=prepared.device,
            load=partial(build_sam, config, weights.path, device=prepared.device),
            timings=prepared.timings,
            expected_bytes=weights.size,
        )
    return sam


def load_prompt_decoder(prepared: Prepared, sam: Sam) -> PromptDecoder | None:
    """The `fast` prompt engine's graph of the version's SAM (built once per warm worker, kept beside the model);
    None on a GPU, where PyTorch's decoder is the fast one. Records `decoder_load_s` and `decoder_cache`."""
    from resources.sam.prompt_fast import PromptDecoder

    if sam.device.type != "cpu":
        return None
    started = time.perf_counter()
    cache_timings: dict[str, object] = {}
    decoder = cached_model(
        digest=f"{prepared.version_record.digest}+decoder.onnx",
        device="cpu",
        load=partial(PromptDecoder.build, sam),
        timings=cache_timings,
    )
    prepared.timings["decoder_cache"] = cache_timings.get("model_cache", "off")
    prepared.timings["decoder_load_s"] = round(time.perf_counter() - started, 4)
    return decoder


def load_fast_encoder(prepared: Prepared, sam: Sam) -> FastEncoder:
    """The `fast` engine's image encoder for the version's SAM: fused attention, bf16 on CUDA, and on CUDA in a warm
    worker a compiled form kept with the cached model (compiled on its first batch, once per worker). Records
    `timings.encoder` (sdpa, dtype, compiled, precision_iou)."""
    from resources.sam.fast.encoder import fast_encoder

    encoder = fast_encoder(sam, long_lived=model_cache.active() is not None)
    prepared.timings["encoder"] = encoder.describe()
    return encoder
