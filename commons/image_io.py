"""Decode uploaded photos into RGB arrays and encode result arrays as PNG, refusing bad files early.

Only PNG, JPEG, TIFF, BMP and WEBP are opened (Pillow is never asked to try its other plugins).
The pixel count is checked from the header before any pixel data is decoded, and decoding is
forced to the end so that truncated files are refused instead of being padded with grey.

Decoding costs memory in proportion to pixels, not to file size (a 5 KB 1-bit PNG of 40 megapixels
is 160 MB as RGBA inside Pillow), so: upload validation (`image_info`) decodes in the file's own mode
(1 byte a pixel for 1-bit, grey and palette images) and JPEGs at 1/8 scale (libjpeg still reads every
byte, so damage is still found) instead of converting to RGB; and at most
`COMMONS_MAX_CONCURRENT_DECODES` decodes run at once in a process (the others wait), so concurrent
uploads cannot multiply the peak. Pillow's own `Image.MAX_IMAGE_PIXELS` is set to
`COMMONS_MAX_IMAGE_PIXELS` on first use.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from commons.errors import InvalidImage, InvalidInput
from commons.settings import get_settings

ALLOWED_FORMATS: Final[tuple[str, ...]] = ("PNG", "JPEG", "TIFF", "BMP", "WEBP")
_ALLOWED_TEXT: Final[str] = "PNG, JPEG, TIFF, BMP or WEBP"
# Mode families that carry transparency; they are composited over white before dropping alpha.
_ALPHA_MODES: Final[frozenset[str]] = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)
_SWAPPED_ORIENTATIONS: Final[frozenset[int]] = frozenset({5, 6, 7, 8})  # EXIF orientations that turn 90°
_JPEG_DRAFT_SCALE: Final[int] = 8
_slots_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


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
    with _opened(data, name=name, max_pixels=max_pixels) as (opened, fmt), decode_slot():
        _load(opened, name=name, fmt=fmt)
        return _to_rgb(ImageOps.exif_transpose(opened))


def image_info(data: bytes, *, name: str, max_pixels: int) -> ImageInfo:
    """Decode the whole photo in its own mode (JPEG at 1/8 scale) and describe it.

    Every file decode_image would refuse is refused (empty, unknown, truncated, too many pixels), without
    the RGB expansion: a 1-bit or palette photo costs 1 byte a pixel, a JPEG 1/64 of its pixels.
    """
    with _opened(data, name=name, max_pixels=max_pixels) as (opened, fmt):
        width, height = opened.size
        with decode_slot():
            if fmt == "JPEG":
                opened.draft(None, (max(1, width // _JPEG_DRAFT_SCALE), max(1, height // _JPEG_DRAFT_SCALE)))
            _load(opened, name=name, fmt=fmt)
        try:
            orientation = opened.getexif().get(0x0112)
        except _DECODE_ERRORS:  # unreadable EXIF: exif_transpose would leave the photo as it is
            orientation = None
    if orientation in _SWAPPED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height, content_type=Image.MIME[fmt])


def header_pixels(data: bytes, *, name: str, max_pixels: int) -> int:
    """width × height from the header alone (nothing decoded); InvalidImage as decode_image for bad headers."""
    with _opened(data, name=name, max_pixels=max_pixels) as (opened, _fmt):
        width, height = opened.size
    return width * height


@contextmanager
def decode_slot() -> Iterator[None]:
    """Hold one of the process's `max_concurrent_decodes` decode slots (waiting for one if all are taken)."""
    slots = _decode_slots()
    with slots:
        yield


def _decode_slots() -> threading.BoundedSemaphore:
    global _slots  # one semaphore per process, sized from the settings on first use
    with _slots_lock:
        if _slots is None:
            settings = get_settings()
            _slots = threading.BoundedSemaphore(settings.max_concurrent_decodes)
            Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
        return _slots


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


@contextmanager
def _opened(data: bytes, *, name: str, max_pixels: int) -> Iterator[tuple[Image.Image, str]]:
    """The photo opened (header read, pixel count checked, nothing decoded) and its format; every Pillow
    failure inside the block becomes an InvalidImage naming `name`."""
    if max_pixels < 1:
        raise InvalidInput(f"max_pixels must be ≥ 1 (got {max_pixels})", field="max_pixels")
    if len(data) == 0:
        raise InvalidImage(f"{name} is empty (0 bytes); upload a PNG or JPEG photo", field=name)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; truncated uploads would pass")
    _decode_slots()  # Image.MAX_IMAGE_PIXELS follows the settings before the first open
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
                yield opened, fmt
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        raise InvalidImage(
            f"{name} has too many pixels to decode safely ({exc}); the limit is {limit} pixels, resize the photo",
            field=name,
        ) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage(
            f"{name} is not a {_ALLOWED_TEXT} image; convert it to PNG or JPEG and upload again",
            field=name,
        ) from exc
    except InvalidInput:
        raise
    except _DECODE_ERRORS as exc:
        raise InvalidImage(
            f"{name} could not be decoded ({exc}); re-export it as PNG or JPEG and upload again",
            field=name,
        ) from exc


def _load(opened: Image.Image, *, name: str, fmt: str) -> None:
    """Decode every pixel in the file's own mode: a truncated or corrupt file raises InvalidImage."""
    try:
        opened.load()
    except _DECODE_ERRORS as exc:
        raise InvalidImage(
            f"{name} is truncated or corrupt ({fmt}: {exc}); re-export or re-upload the file",
            field=name,
        ) from exc


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
