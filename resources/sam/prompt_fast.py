"""The `fast` prompt engine: a prompt's mask from SAM's decoder as an ONNX graph run by ONNX Runtime.

The graph is segment-anything's `SamOnnxModel` exported from this very model (`resources.sam.onnx_decoder`, as
the Segment page's, but returning all four of SAM's proposals at the decoder's resolution: the single-mask output
and the three of multimask); ONNX Runtime runs it about twice as fast as PyTorch's eager decoder on a CPU
(bench/sam_prompt_latency.py), and only the kept mask is upsampled to the photo (by `Sam.postprocess_masks`, as
`SamPredictor` upsamples each of its masks). The mask is chosen as `SamPredictor.predict` chooses: with
`multimask` the best scored of the three, else the single-mask output; so any prompt, whatever its `multimask`,
gets the record the `reference` engine gives (IoU ≥ `MIN_IOU`), and a task saved from the Segment page the mask
the page showed.

`PromptDecoder.build` exports the graph of a loaded SAM and refuses it (DecoderMismatch) unless its masks match
PyTorch's on test prompts; warm workers keep it beside the model (flows/kinds/sam/loading.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from segment_anything.modeling import Sam

from commons.image_io import check_rgb_array
from resources.sam.config import PromptParams
from resources.sam.embedding import ImageEmbedding, predictor_for
from resources.sam.infer import mask_record
from resources.sam.onnx_decoder import (
    LOW_RES_INPUT_NAMES,
    MIN_IOU,
    OUTPUT_NAMES,
    Box,
    DecoderMismatch,
    Point,
    decoder_inputs,
    export_decoder,
    iou,
    load_decoder,
    stand_in_embedding,
)


class PromptDecoder:
    """An ONNX Runtime session of one SAM's decoder graph (all four proposals), checked against PyTorch when built."""

    def __init__(self, session: Any, *, graph_bytes: int) -> None:
        self.session = session
        self.cache_bytes = graph_bytes  # what a model cache counts for it (flows/steps/model_cache.py)
        self.worst_iou = 1.0

    @classmethod
    def build(cls, sam: Sam) -> PromptDecoder:
        """Export `sam`'s decoder (a model on the CPU), load it and check it (DecoderMismatch when its masks differ)."""
        with tempfile.TemporaryDirectory(prefix="commons-decoder-") as folder:
            path = export_decoder(sam, Path(folder) / "decoder.onnx", single_mask=False, low_res=True)
            decoder = cls(load_decoder(path, inputs=LOW_RES_INPUT_NAMES), graph_bytes=path.stat().st_size)
        decoder.check(sam)
        return decoder

    def logits(
        self, sam: Sam, embedding: ImageEmbedding, points: list[Point], box: Box | None, *, multimask: bool
    ) -> tuple[np.ndarray, float]:
        """The kept mask's logits (h x w float32, the photo's pixels) and its predicted IoU, for one prompt; `sam`
        (this graph's model) upsamples the kept mask."""
        feeds = decoder_inputs(embedding, points, box)
        del feeds["orig_im_size"]  # the graph stops at the decoder's resolution
        scores, low_res = self.session.run(list(OUTPUT_NAMES[1:]), feeds)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        best = 1 + int(np.argmax(scores[1:])) if multimask else 0
        kept = torch.from_numpy(np.ascontiguousarray(low_res[:, best : best + 1], dtype=np.float32))
        with torch.inference_mode():
            upscaled = sam.postprocess_masks(kept, embedding.input_size, embedding.original_size)
        return upscaled[0, 0].numpy(), float(scores[best])

    def check(self, sam: Sam) -> None:
        """Decode test prompts on a stand-in embedding, each with and without `multimask`, here and with PyTorch;
        keep the worst IoU, or raise DecoderMismatch when one is under MIN_IOU."""
        stand_in = stand_in_embedding(sam)
        height, width = stand_in.original_size
        x, y, quarter = width / 2, height / 2, (width / 4, height / 4, 3 * width / 4, 3 * height / 4)
        prompts: list[tuple[list[Point], Box | None]] = [
            ([(x, y, 1)], None),
            ([(x, y, 1), (width / 5, height / 5, 0)], None),
            ([], quarter),
            ([(x, y, 1)], quarter),
        ]
        for points, box in prompts:
            for multimask in (True, False):
                ours, _ = self.logits(sam, stand_in, points, box, multimask=multimask)
                theirs, _ = _torch_logits(sam, stand_in, _coords(points), points, box, multimask=multimask)
                found = iou(ours > sam.mask_threshold, theirs > sam.mask_threshold)
                if found < MIN_IOU:
                    raise DecoderMismatch(
                        f"the decoder graph's mask for points {points}, box {box} and multimask {multimask} has IoU "
                        f"{found:.4f} with PyTorch's (at least {MIN_IOU} needed); the prompt engine 'reference' "
                        "still works"
                    )
                self.worst_iou = min(self.worst_iou, found)


def segment_prompt_fast(
    decoder: PromptDecoder, sam: Sam, image: np.ndarray, params: PromptParams, *, embedding: ImageEmbedding
) -> list[dict[str, Any]]:
    """`resources.sam.infer.segment_prompt`'s records (one per box, or one for the points alone) from the graph."""
    check_rgb_array(image)
    height, width = image.shape[:2]
    params.check_inside(width, height)
    if embedding.original_size != (height, width):
        raise ValueError(f"the embedding is of a {embedding.original_size} photo, not of this {(height, width)} one")
    points: list[Point] = [(float(x), float(y), int(label)) for x, y, label in params.points]
    coords = _coords(points)
    boxes: list[Box | None] = [tuple(box) for box in params.boxes] or [None]  # type: ignore[misc]
    threshold = float(sam.mask_threshold)
    records = []
    for box in boxes:
        logits, score = decoder.logits(sam, embedding, points, box, multimask=params.multimask)
        records.append(mask_record(logits, score, threshold, coords))
    return records


def _torch_logits(
    sam: Sam, embedding: ImageEmbedding, coords: np.ndarray, points: list[Point], box: Box | None, *, multimask: bool
) -> tuple[np.ndarray, float]:
    """PyTorch's kept mask (SamPredictor's logits and score), to check the graph against."""
    labels = np.array([label for _, _, label in points], dtype=np.int64)
    with torch.inference_mode():
        logits, scores, _ = predictor_for(sam, embedding).predict(
            point_coords=coords if len(coords) else None,
            point_labels=labels if len(labels) else None,
            box=np.array(box, dtype=np.float32) if box is not None else None,
            multimask_output=multimask,
            return_logits=True,
        )
    best = int(np.argmax(scores))
    return np.asarray(logits[best], dtype=np.float32), float(scores[best])


def _coords(points: list[Point]) -> np.ndarray:
    """N x 2 float32 pixel coordinates of the points (0 x 2 for none)."""
    return np.array([[x, y] for x, y, _ in points], dtype=np.float32).reshape(-1, 2)
