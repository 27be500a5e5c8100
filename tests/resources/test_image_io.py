"""commons.image_io: every bad upload is refused with a clear message; good ones decode to RGB."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from commons.errors import InvalidImage, InvalidInput
from commons.image_io import check_rgb_array, decode_image, encode_png, image_info

LIMIT = 10**7


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB pixels, with a tiny (wrong) IDAT."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_png_and_jpeg_decode_to_rgb() -> None:
    pixels = _noise(20, 30)
    decoded = decode_image(_encode(Image.fromarray(pixels), "PNG"), name="a.png", max_pixels=LIMIT)
    assert decoded.dtype == np.uint8
    assert decoded.shape == (20, 30, 3)
    np.testing.assert_array_equal(decoded, pixels)
    jpeg = decode_image(_encode(Image.fromarray(pixels), "JPEG"), name="a.jpg", max_pixels=LIMIT)
    assert jpeg.shape == (20, 30, 3)


@pytest.mark.parametrize("fmt", ["TIFF", "BMP", "WEBP"])
def test_other_allowed_formats(fmt: str) -> None:
    info = image_info(_encode(Image.fromarray(_noise(8, 12)), fmt), name="x", max_pixels=LIMIT)
    assert (info.format, info.width, info.height) == (fmt, 12, 8)
    assert info.content_type.startswith("image/")


def test_image_info_reports_format_size_and_content_type() -> None:
    info = image_info(_encode(Image.fromarray(_noise(40, 50)), "JPEG"), name="p.jpg", max_pixels=LIMIT)
    assert (info.format, info.width, info.height, info.content_type) == ("JPEG", 50, 40, "image/jpeg")


def test_multi_picture_jpeg_is_reported_as_jpeg() -> None:
    first, second = Image.fromarray(_noise(10, 20)), Image.fromarray(_noise(10, 20, seed=1))
    data = _encode(first, "MPO", save_all=True, append_images=[second])
    info = image_info(data, name="phone.jpg", max_pixels=LIMIT)
    assert (info.format, info.content_type, info.width, info.height) == ("JPEG", "image/jpeg", 20, 10)


def test_empty_file() -> None:
    with pytest.raises(InvalidImage, match=r"^photo\.png is empty \(0 bytes\); upload a PNG or JPEG photo$"):
        decode_image(b"", name="photo.png", max_pixels=LIMIT)


def test_text_file_is_not_an_image() -> None:
    with pytest.raises(InvalidImage, match=r"notes\.txt is not a PNG, JPEG, TIFF, BMP or WEBP image"):
        decode_image(b"just some words\n" * 10, name="notes.txt", max_pixels=LIMIT)


def test_gif_is_not_an_allowed_format() -> None:
    gif = _encode(Image.fromarray(_noise(8, 8)).convert("P"), "GIF")
    with pytest.raises(InvalidImage, match="is not a PNG, JPEG, TIFF, BMP or WEBP image"):
        image_info(gif, name="a.gif", max_pixels=LIMIT)


def test_truncated_png() -> None:
    data = _encode(Image.fromarray(_noise(64, 64)), "PNG")
    with pytest.raises(InvalidImage, match=r"cut\.png is truncated or corrupt"):
        decode_image(data[: len(data) // 2], name="cut.png", max_pixels=LIMIT)


def test_truncated_jpeg() -> None:
    data = _encode(Image.fromarray(_noise(64, 64)), "JPEG", quality=95)
    with pytest.raises(InvalidImage, match=r"cut\.jpg is truncated or corrupt"):
        image_info(data[: len(data) // 2], name="cut.jpg", max_pixels=LIMIT)


def test_pixel_bomb_header_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidImage, match=r"bomb\.png has too many pixels"):
        decode_image(_png_header_only(20000, 20000), name="bomb.png", max_pixels=LIMIT)


def test_more_pixels_than_the_limit() -> None:
    # 5000 x 4000 is below Pillow's own bomb limit: our header check must catch it.
    with pytest.raises(InvalidImage, match=r"big\.png is 5000x4000 = 20000000 pixels, more than the limit of 1000000"):
        decode_image(_png_header_only(5000, 4000), name="big.png", max_pixels=10**6)


def test_rgba_is_composited_over_white() -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 200, 30)
    rgba[:2, :, 3] = 255  # top half opaque, bottom half fully transparent
    decoded = decode_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), name="a.png", max_pixels=LIMIT)
    assert decoded.shape == (4, 4, 3)
    assert (decoded[:2] == (10, 200, 30)).all()
    assert (decoded[2:] == 255).all()


def test_grey_and_palette_become_rgb() -> None:
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    decoded = decode_image(_encode(Image.fromarray(grey, "L"), "PNG"), name="g.png", max_pixels=LIMIT)
    assert decoded.shape == (8, 8, 3)
    assert (decoded == grey[:, :, None]).all()
    palette = Image.fromarray(_noise(8, 8)).convert("P")
    assert decode_image(_encode(palette, "PNG"), name="p.png", max_pixels=LIMIT).shape == (8, 8, 3)


def test_sixteen_bit_grey_is_scaled_to_eight_bits() -> None:
    grey = np.array([[0, 65535], [257 * 100, 257 * 200]], dtype=np.uint16)
    decoded = decode_image(encode_png(grey), name="g16.png", max_pixels=LIMIT)
    np.testing.assert_array_equal(decoded[..., 0], [[0, 255], [100, 200]])


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encode(Image.fromarray(_noise(20, 30)), "JPEG", exif=exif)
    assert decode_image(data, name="o.jpg", max_pixels=LIMIT).shape == (30, 20, 3)
    info = image_info(data, name="o.jpg", max_pixels=LIMIT)
    assert (info.width, info.height) == (20, 30)


def test_uint16_png_round_trips_exactly() -> None:
    values = np.random.default_rng(1).integers(0, 65536, (37, 53), dtype=np.uint16)
    with Image.open(io.BytesIO(encode_png(values))) as image:
        assert image.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(image), values)


def test_rgb_png_round_trips_exactly() -> None:
    pixels = _noise(9, 11, seed=2)
    with Image.open(io.BytesIO(encode_png(pixels))) as image:
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), pixels)


@pytest.mark.parametrize(
    "array",
    [np.zeros((4, 4), dtype=np.float32), np.zeros((4, 4, 4), dtype=np.uint8), np.zeros((0, 3, 3), dtype=np.uint8)],
)
def test_encode_png_refuses_other_arrays(array: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="encode"):
        encode_png(array)


def test_check_rgb_array() -> None:
    check_rgb_array(np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(InvalidInput, match="HxWx3 uint8"):
        check_rgb_array(np.zeros((2, 3, 3), dtype=np.float32))
