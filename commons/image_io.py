"""Decode uploaded photos into RGB arrays and encode result arrays as PNG, refusing bad files early.

Only PNG, JPEG, TIFF, BMP and WEBP are opened (Pillow is never asked to try its other plugins).
The pixel count is checked from the header before any pixel data is decoded, and decoding is
forced to the end so that truncated files are refused instead of being padded with grey.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from commons.errors import InvalidImage, InvalidInput

ALLOWED_FORMATS: Final[tuple[str, ...]] = ("PNG", "JPEG", "TIFF", "BMP", "WEBP")
_ALLOWED_TEXT: Final[str] = "PNG, JPEG, TIFF, BMP or WEBP"
# Mode families that carry transparency; they are composited over white before dropping alpha.
_ALPHA_MODES: Final[frozenset[str]] = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


@dataclass(frozen=True)
class ImageInfo:
    """What upload validation records about a photo; width/height are after EXIF orientation."""

    format: str
    width: int
    height: int
    content_type: str


def decode_image(data: bytes, *, name: str, max_pixels: int) -> np.ndarray:
    """Decode an uploaded photo to RGB.

    Returns an HxWx3 uint8 array (row-major, RGB channel order), with the EXIF orientation
    applied, grey/palette images expanded and transparent images composited over white.
    Raises InvalidImage for empty, unknown, truncated or too-large (in pixels) files.
    """
    return _decode(data, name=name, max_pixels=max_pixels)[0]


def image_info(data: bytes, *, name: str, max_pixels: int) -> ImageInfo:
    """Fully decode the photo (so that every check of decode_image applies) and describe it."""
    array, fmt = _decode(data, name=name, max_pixels=max_pixels)
    height, width = array.shape[:2]
    return ImageInfo(format=fmt, width=width, height=height, content_type=Image.MIME[fmt])


def check_rgb_array(array: object, *, name: str = "image") -> None:
    """Raise InvalidInput unless `array` is a non-empty HxWx3 uint8 numpy array (what decode_image returns)."""
    if not (
        isinstance(array, np.ndarray)
        and array.ndim == 3
        and array.shape[2] == 3
        and array.dtype == np.uint8
        and array.shape[0] > 0
        and array.shape[1] > 0
    ):
        shape = getattr(array, "shape", None)
        dtype = getattr(array, "dtype", type(array).__name__)
        raise InvalidInput(f"{name} must be an HxWx3 uint8 RGB array, got shape {shape} and dtype {dtype}", field=name)


def encode_png(array: np.ndarray) -> bytes:
    """Encode an HxWx3 uint8 RGB array or an HxW uint16 grey array as PNG bytes (lossless).

    uint16 arrays are written as 16-bit greyscale (Pillow mode "I;16") and read back bit-exactly.
    """
    if array.ndim >= 2 and (array.shape[0] == 0 or array.shape[1] == 0):
        raise InvalidInput(f"cannot encode an empty image of shape {array.shape}", field="array")
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        image = Image.fromarray(np.ascontiguousarray(array))
    elif array.dtype == np.uint16 and array.ndim == 2:
        contiguous = np.ascontiguousarray(array, dtype="<u2")
        image = Image.frombytes("I;16", (array.shape[1], array.shape[0]), contiguous.tobytes())
    else:
        raise InvalidInput(
            f"encode_png takes an HxWx3 uint8 or an HxW uint16 array, got shape {array.shape} and dtype {array.dtype}",
            field="array",
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(data: bytes, *, name: str, max_pixels: int) -> tuple[np.ndarray, str]:
    if max_pixels < 1:
        raise InvalidInput(f"max_pixels must be ≥ 1 (got {max_pixels})", field="max_pixels")
    if len(data) == 0:
        raise InvalidImage(f"{name} is empty (0 bytes); upload a PNG or JPEG photo", field=name)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; truncated uploads would pass")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb warning becomes an error. catch_warnings is process-wide in Python 3.11, so
            # concurrent decodes may briefly see each other's filters; that never lets an image past our own
            # max_pixels check below, which is the real guard.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as opened:
                # Multi-picture JPEGs (many phone cameras) open as "MPO": report them as the JPEGs they are.
                fmt = "JPEG" if opened.format == "MPO" else str(opened.format)
                _check_pixels(opened.size, name=name, max_pixels=max_pixels)
                try:
                    opened.load()
                except _DECODE_ERRORS as exc:
                    raise InvalidImage(
                        f"{name} is truncated or corrupt ({fmt}: {exc}); re-export or re-upload the file",
                        field=name,
                    ) from exc
                oriented = ImageOps.exif_transpose(opened)
                rgb = _to_rgb(oriented)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(
            f"{name} has too many pixels to decode safely ({exc}); the limit is {max_pixels} pixels, resize the photo",
            field=name,
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage(
            f"{name} is not a {_ALLOWED_TEXT} image; convert it to PNG or JPEG and upload again",
            field=name,
        ) from exc
    except InvalidImage:
        raise
    except _DECODE_ERRORS as exc:
        raise InvalidImage(
            f"{name} could not be decoded ({exc}); re-export it as PNG or JPEG and upload again",
            field=name,
        ) from exc
    return rgb, fmt


def _check_pixels(size: tuple[int, int], *, name: str, max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidImage(f"{name} has no pixels ({width}x{height}); upload a real photo", field=name)
    if width * height > max_pixels:
        raise InvalidImage(
            f"{name} is {width}x{height} = {width * height} pixels, more than the limit of {max_pixels}; "
            "resize the photo and upload again",
            field=name,
        )


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Convert any decoded Pillow image to an HxWx3 uint8 RGB array."""
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.array(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = np.asarray(image).astype(np.float64)
        if mode == "F":  # floating-point TIFF: stretch its own range to 0..255
            low, high = float(grey.min()), float(grey.max())
            grey = (grey - low) / max(high - low, 1e-12) * 65535.0
        grey8 = np.clip(np.rint(grey / 257.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey8[:, :, None], 3, axis=2))
    return np.array(image.convert("RGB"), dtype=np.uint8)
