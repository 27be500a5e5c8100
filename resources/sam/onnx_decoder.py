"""SAM's prompt encoder and mask decoder as one ONNX graph, decoded with an image embedding in the browser.

The graph is segment-anything's own `SamOnnxModel` (as its `scripts/export_onnx_model.py` exports it, with the
TorchScript exporter: the output size follows `orig_im_size`, a value, which the dynamo exporter cannot trace),
with `return_single_mask=True` and any number of points. Its inputs, for one prompt:

- `image_embeddings` 1 x C x H' x W' float32: the photo's embedding (`resources.sam.embedding.embed`);
- `point_coords` 1 x N x 2 float32 and `point_labels` 1 x N float32: the points in the resized photo's pixels
  (`ResizeLongestSide.apply_coords`: x·w'/w, y·h'/h), labels 1 foreground, 0 background, 2 and 3 a box's corners,
  -1 the padding point (0, 0) that goes last when there is no box — as `SamPredictor` prompts the decoder;
- `mask_input` 1 x 1 x 4H' x 4W' and `has_mask_input` [0]: no previous mask;
- `orig_im_size` [h, w] float32: the photo's size, which `masks` (1 x 1 x h x w logits; > 0 is the mask) has.

With one point and no box (N = 2) the graph keeps the best of SAM's three proposals, otherwise its single-mask
output: what `SamPredictor.predict(multimask_output=multimask_for(...))` keeps (`segment_prompt` takes the top
score), so a task with the same prompt and `multimask` gives the same mask.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from segment_anything.utils.onnx import SamOnnxModel
from segment_anything.utils.transforms import ResizeLongestSide

from commons.errors import CommonsError, InvalidWeights
from resources.sam.embedding import ImageEmbedding, predictor_for

INPUT_NAMES: Final[tuple[str, ...]] = (
    "image_embeddings",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
    "orig_im_size",
)
LOW_RES_INPUT_NAMES: Final[tuple[str, ...]] = INPUT_NAMES[:-1]  # a `low_res` graph needs no photo size
OUTPUT_NAMES: Final[tuple[str, ...]] = ("masks", "iou_predictions", "low_res_masks")
MIN_IOU: Final[float] = 0.99
Point = tuple[float, float, int]
Box = tuple[float, float, float, float]


class DecoderMismatch(CommonsError):
    """The exported decoder's masks differ from PyTorch's for a test prompt (the export is unusable)."""


class _TraceableSamOnnxModel(SamOnnxModel):
    """`SamOnnxModel` whose crop to the unpadded size stays a function of `orig_im_size` in the graph: recent
    torch's tracer bakes `masks[..., :h', :w']` (tensor bounds) into constants, the dummy photo's size; gathering
    `arange(h')` and `arange(w')` keeps it dynamic. Same numbers as the library's `mask_postprocessing`."""

    def mask_postprocessing(self, masks: torch.Tensor, orig_im_size: torch.Tensor) -> torch.Tensor:
        masks = F.interpolate(masks, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False)
        prepadded = self.resize_longest_image_size(orig_im_size, self.img_size).to(torch.int64)
        masks = masks.index_select(2, torch.arange(prepadded[0])).index_select(3, torch.arange(prepadded[1]))
        size = orig_im_size.to(torch.int64)
        # Tensors, not ints, so that the tracer keeps the size a function of the input (as the library does).
        return F.interpolate(masks, size=(size[0], size[1]), mode="bilinear", align_corners=False)  # type: ignore[arg-type]


class _LowResSamOnnxModel(_TraceableSamOnnxModel):
    """`SamOnnxModel` whose `masks` output is the decoder's low-resolution logits (1 x k x 4H' x 4W'), not
    upsampled to the photo: the caller upsamples only the mask it keeps, as `Sam.postprocess_masks` does."""

    def mask_postprocessing(self, masks: torch.Tensor, orig_im_size: torch.Tensor) -> torch.Tensor:
        return masks


def export_decoder(sam: Sam, path: Path, *, opset: int = 17, single_mask: bool = True, low_res: bool = False) -> Path:
    """Write the prompt encoder + mask decoder of `sam` (a model on the CPU) to `path` (atomic). With
    `single_mask` False the graph returns all of SAM's mask proposals (1 x 4 x h x w: the single-mask output,
    then the three of multimask), and their predicted IoUs, for the caller to choose (resources/sam/prompt_fast.py);
    with `low_res` its `masks` are the decoder's low-resolution logits, for the caller to upsample."""
    if sam.device.type != "cpu":
        raise ValueError(f"export the decoder of a SAM on the CPU (this one is on {sam.device})")
    model = (_LowResSamOnnxModel if low_res else _TraceableSamOnnxModel)(sam, return_single_mask=single_mask)
    embed_dim = sam.prompt_encoder.embed_dim
    height, width = sam.prompt_encoder.image_embedding_size
    dummy = (
        torch.randn(1, embed_dim, height, width),
        torch.randint(0, 1024, (1, 5, 2), dtype=torch.float32),
        torch.randint(0, 4, (1, 5), dtype=torch.float32),
        torch.zeros(1, 1, 4 * height, 4 * width),
        torch.tensor([1.0]),
        torch.tensor([1500.0, 2250.0]),
    )
    partial = path.with_name(f".{path.name}.partial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings, as in SAM's own script
        torch.onnx.export(
            model,
            dummy,
            str(partial),
            export_params=True,
            opset_version=opset,
            do_constant_folding=True,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
            dynamo=False,
        )
    os.replace(partial, path)
    return path


def multimask_for(points: Sequence[Point], box: Box | None) -> bool:
    """Whether SamPredictor must propose three masks to keep what the graph keeps for this prompt."""
    return len(points) + (2 if box is not None else 1) <= 2


def decoder_inputs(embedding: ImageEmbedding, points: Sequence[Point], box: Box | None = None) -> dict[str, Any]:
    """The graph's inputs for one prompt on the photo of `embedding` (points and box in its pixels)."""
    original = embedding.original_size
    transform = ResizeLongestSide(max(embedding.input_size))
    coords = [[x, y] for x, y, _ in points]
    labels = [float(label) for _, _, label in points]
    if box is not None:
        coords += [[box[0], box[1]], [box[2], box[3]]]
        labels += [2.0, 3.0]
    else:
        coords.append([0.0, 0.0])
        labels.append(-1.0)
    scaled = transform.apply_coords(np.array(coords, dtype=np.float32), original).astype(np.float32)
    _, _, height, width = embedding.features.shape
    return {
        "image_embeddings": embedding.features.numpy(),
        "point_coords": scaled[None],
        "point_labels": np.array([labels], dtype=np.float32),
        "mask_input": np.zeros((1, 1, 4 * height, 4 * width), dtype=np.float32),
        "has_mask_input": np.zeros(1, dtype=np.float32),
        "orig_im_size": np.array(original, dtype=np.float32),
    }


def load_decoder(path: Path, *, inputs: tuple[str, ...] = INPUT_NAMES) -> Any:
    """An ONNX Runtime session (CPU) of an exported decoder with these `inputs`; InvalidWeights when it is no usable
    graph."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for unreadable graphs
        raise InvalidWeights(f"{path.name}: ONNX Runtime cannot load it ({error})", field="path") from error
    names = tuple(node.name for node in session.get_inputs())
    if names != inputs:
        raise InvalidWeights(f"{path.name}: inputs {names}, not SAM's decoder inputs {inputs}", field="path")
    return session


def decode(session: Any, embedding: ImageEmbedding, points: Sequence[Point], box: Box | None = None) -> np.ndarray:
    """The graph's mask (h x w bool) for one prompt."""
    masks, _, _ = session.run(list(OUTPUT_NAMES), decoder_inputs(embedding, points, box))
    return np.asarray(masks)[0, 0] > 0.0


def torch_mask(sam: Sam, embedding: ImageEmbedding, points: Sequence[Point], box: Box | None = None) -> np.ndarray:
    """`SamPredictor`'s mask for the same prompt, kept as `segment_prompt` keeps it (the top score)."""
    predictor = predictor_for(sam, embedding)
    coords = np.array([[x, y] for x, y, _ in points], dtype=np.float32).reshape(-1, 2)
    labels = np.array([label for _, _, label in points], dtype=np.int64)
    with torch.inference_mode():
        masks, scores, _ = predictor.predict(
            point_coords=coords if len(coords) else None,
            point_labels=labels if len(labels) else None,
            box=np.array(box, dtype=np.float32) if box is not None else None,
            multimask_output=multimask_for(points, box),
        )
    return np.asarray(masks[int(np.argmax(scores))], dtype=bool)


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two bool masks; 1.0 when both are empty."""
    union = int(np.logical_or(first, second).sum())
    return 1.0 if union == 0 else int(np.logical_and(first, second).sum()) / union


def stand_in_embedding(sam: Sam, *, height: int = 480, width: int = 640, seed: int = 0) -> ImageEmbedding:
    """A stand-in embedding (seeded noise) of a height x width photo, to check a decoder without an encoder run."""
    generator = torch.Generator().manual_seed(seed)
    embed_dim = sam.prompt_encoder.embed_dim
    side_h, side_w = sam.prompt_encoder.image_embedding_size
    features = torch.randn(1, embed_dim, side_h, side_w, generator=generator)
    resized = ResizeLongestSide.get_preprocess_shape(height, width, sam.image_encoder.img_size)
    return ImageEmbedding(features=features, original_size=(height, width), input_size=resized)


def check_decoder(path: Path, sam: Sam, embedding: ImageEmbedding) -> float:
    """Decode test prompts (one point; two points; a box; a box and a point) with the graph and with PyTorch;
    return the worst IoU, or raise DecoderMismatch when one is under MIN_IOU."""
    session = load_decoder(path)
    height, width = embedding.original_size
    x, y = width / 2, height / 2
    prompts: list[tuple[list[Point], Box | None]] = [
        ([(x, y, 1)], None),
        ([(x, y, 1), (width / 5, height / 5, 0)], None),
        ([], (width / 4, height / 4, 3 * width / 4, 3 * height / 4)),
        ([(x, y, 1)], (width / 4, height / 4, 3 * width / 4, 3 * height / 4)),
    ]
    worst = 1.0
    for points, box in prompts:
        found = iou(decode(session, embedding, points, box), torch_mask(sam, embedding, points, box))
        if found < MIN_IOU:
            raise DecoderMismatch(
                f"the exported decoder's mask for points {points} and box {box} has IoU {found:.4f} with "
                f"PyTorch's (at least {MIN_IOU} is needed); the export is not usable"
            )
        worst = min(worst, found)
    return worst
