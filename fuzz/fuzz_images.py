"""Fuzz photo validation (`commons.image_io.image_info`, the upload check, and `decode_image`, the
workers' RGB decode). Documented error: InvalidImage.
"""

from __future__ import annotations

from fuzz.harness import fuzz, instrumented

with instrumented(__name__ == "__main__", extra=("PIL",)):
    from commons.errors import InvalidImage
    from commons.image_io import decode_image, image_info

MAX_PIXELS = 1_000_000


def target(data: bytes) -> None:
    try:
        info = image_info(data, name="fuzz", max_pixels=MAX_PIXELS)
    except InvalidImage:
        return
    try:
        array = decode_image(data, name="fuzz", max_pixels=MAX_PIXELS)
    except InvalidImage:
        return
    height, width = array.shape[:2]
    if (width, height) != (info.width, info.height):
        raise AssertionError(f"image_info says {info.width}x{info.height}, decode_image gives {width}x{height}")


if __name__ == "__main__":
    fuzz(target)
