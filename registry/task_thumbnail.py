"""A task's preview: a small JPEG of its first input photo or first image output, made on request.

Bounded: the pixel count is checked from the header before anything is decoded (the same limit as uploads),
JPEGs are decoded at a reduced scale, and decodes share the process's decode slots (`commons.image_io`).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from commons.image_io import ALLOWED_FORMATS, decode_slot, header_pixels

THUMBNAIL_EDGE = 256  # the longer side, in pixels
JPEG_QUALITY = 80


def make_thumbnail(data: bytes, *, name: str, max_pixels: int) -> bytes:
    """`data` (an image file) as a JPEG of at most THUMBNAIL_EDGE pixels a side, EXIF orientation applied.

    InvalidImage (a 422 naming `name`) for a file that is not an image or has more than `max_pixels`."""
    header_pixels(data, name=name, max_pixels=max_pixels)
    with decode_slot(), Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as opened:
        if opened.format == "JPEG":
            opened.draft("RGB", (THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        image = ImageOps.exif_transpose(opened) or opened
        image = _displayable(image)
        image.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()


def _displayable(image: Image.Image) -> Image.Image:
    """RGB for any mode: transparency over white, 16-bit and float images stretched to their own range."""
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = float(values.max()) or 1.0
        return Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
