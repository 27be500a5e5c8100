"""The export step for `segmenter.sam`: the version's prompt encoder and mask decoder as `decoder.onnx` (what the
Segment page decodes clicks with, in the browser), checked against PyTorch, and `decoder.json` describing it."""

from __future__ import annotations

import json
from pathlib import Path

from commons.errors import InvalidWeights
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter

DECODER = "decoder.onnx"
DECODER_INFO = "decoder.json"
DECODER_FORMAT = "sam-decoder-onnx/1"


def export_sam(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    """Export on the CPU (a fresh copy of the model: the warm worker's cached one may sit on a GPU), then decode
    test prompts with ONNX Runtime and PyTorch; a mask under IoU 0.99 fails the task (DecoderMismatch)."""
    from resources.sam.config import parse_export_params, parse_sam_config
    from resources.sam.model import build_sam
    from resources.sam.onnx_decoder import INPUT_NAMES, MIN_IOU, check_decoder, export_decoder, stand_in_embedding

    config = parse_sam_config(prepared.config)
    params = parse_export_params(prepared.params)
    weights = prepared.weights.get(config.checkpoint)
    if weights is None:
        raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
    with prepared.timed("model_load"):
        sam = build_sam(config, weights.path, device="cpu")
    prepared.outputs.mkdir(parents=True, exist_ok=True)
    decoder = prepared.outputs / DECODER
    with prepared.timed("export"):
        export_decoder(sam, decoder, opset=params.opset)
    report.progress(0.6)
    with prepared.timed("check"):
        worst = check_decoder(decoder, sam, stand_in_embedding(sam, seed=prepared.seed))
    info = {
        "format": DECODER_FORMAT,
        "version": prepared.reference(),
        "opset": params.opset,
        "inputs": list(INPUT_NAMES),
        "image_size": sam.image_encoder.img_size,
        "mask_threshold": float(sam.mask_threshold),
        "check": {"prompts": 4, "worst_iou": worst, "min_iou": MIN_IOU},
    }
    described = prepared.outputs / DECODER_INFO
    described.write_text(json.dumps(info, indent=2) + "\n")
    report.progress(1.0)
    return [decoder, described]
