"""A photo's SAM image embedding as a value: computed once by the image encoder, kept (bytes, in a cache or the
object store), and turned back into a ready `SamPredictor` so prompts decode without encoding again.

The embedding is what `SamPredictor.set_image` leaves on the predictor: `features` (1 x C x H' x W' float32, the
encoder's output), the photo's `original_size` (H, W) and the `input_size` (h, w) it was resized to before
padding to the encoder's square input. Stored as safetensors (the tensor, with the sizes in its metadata), the
format every loader here already trusts; a malformed or mismatched blob is refused with InvalidInput.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from segment_anything import SamPredictor
from segment_anything.modeling import Sam

from commons.errors import InvalidInput
from commons.image_io import check_rgb_array

FEATURES = "features"
FORMAT = "sam-embedding/1"


@dataclass(frozen=True)
class ImageEmbedding:
    features: torch.Tensor  # 1 x C x H' x W', float32, on the CPU
    original_size: tuple[int, int]  # the photo's (height, width)
    input_size: tuple[int, int]  # (height, width) after ResizeLongestSide, before padding


def embed(sam: Sam, image: np.ndarray) -> ImageEmbedding:
    """Run the image encoder once on an HxWx3 uint8 RGB photo."""
    check_rgb_array(image)
    predictor = SamPredictor(sam)
    with torch.inference_mode():
        predictor.set_image(image)
    features = predictor.get_image_embedding().detach().to("cpu", torch.float32).contiguous()
    original = predictor.original_size
    resized = predictor.input_size
    if original is None or resized is None:  # set_image always sets both
        raise RuntimeError("SamPredictor.set_image left no image sizes")
    return ImageEmbedding(
        features=features,
        original_size=(int(original[0]), int(original[1])),
        input_size=(int(resized[0]), int(resized[1])),
    )


def predictor_for(sam: Sam, embedding: ImageEmbedding) -> SamPredictor:
    """A `SamPredictor` primed with `embedding`, as if `set_image` had just run on its photo."""
    predictor = SamPredictor(sam)
    predictor.reset_image()
    predictor.features = embedding.features.to(sam.device)
    predictor.original_size = embedding.original_size
    predictor.input_size = embedding.input_size
    predictor.is_image_set = True
    return predictor


def to_bytes(embedding: ImageEmbedding) -> bytes:
    metadata = {
        "format": FORMAT,
        "original_size": f"{embedding.original_size[0]}x{embedding.original_size[1]}",
        "input_size": f"{embedding.input_size[0]}x{embedding.input_size[1]}",
    }
    return save_tensors({FEATURES: embedding.features.contiguous()}, metadata=metadata)


def from_bytes(data: bytes) -> ImageEmbedding:
    """The embedding stored by `to_bytes`; anything else is refused."""
    try:
        tensors = load_tensors(data)
        metadata = _metadata(data)
    except (SafetensorError, ValueError) as error:
        raise InvalidInput(f"not a stored SAM embedding ({error})") from error
    features = tensors.get(FEATURES)
    if metadata.get("format") != FORMAT or features is None or features.dim() != 4 or features.dtype != torch.float32:
        raise InvalidInput(f"not a stored SAM embedding (format {metadata.get('format')!r})")
    return ImageEmbedding(
        features=features,
        original_size=_size(metadata.get("original_size")),
        input_size=_size(metadata.get("input_size")),
    )


def cache_key(*, version_digest: str, photo_sha256: str, device_class: str, dtype: str, input_size: int) -> str:
    """The key of an embedding: what it depends on (the weights, the photo, where and how it was computed)."""
    parts = (FORMAT, version_digest, photo_sha256, device_class, dtype, str(input_size))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _metadata(data: bytes) -> dict[str, str]:
    # safetensors' layout: 8 bytes of little-endian header length, then the JSON header.
    if len(data) < 8:
        raise ValueError("too short")
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8 or length > 1 << 20:
        raise ValueError("header length out of range")
    header = json.loads(data[8 : 8 + length])
    found = header.get("__metadata__") or {}
    if not isinstance(found, dict):
        raise ValueError("metadata is not an object")
    return {str(key): str(value) for key, value in found.items()}


def _size(text: str | None) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in (text or "").split("x"))
    except ValueError as error:
        raise InvalidInput(f"not a stored SAM embedding (size {text!r})") from error
    if not (0 < height <= 1 << 16 and 0 < width <= 1 << 16):
        raise InvalidInput(f"not a stored SAM embedding (size {text!r})")
    return height, width
