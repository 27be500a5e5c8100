"""Label Studio's brush RLE (`label_studio_sdk.converter.brush.encode_rle` / `decode_rle`), written from its format
because the SDK cannot share the project's environment (it pins numpy, OpenCV and PyJWT below the project's).

A mask of H x W pixels is sent as H*W*4 bytes (RGBA, every channel 255 inside the mask, 0 outside), row by row,
packed into a bit stream: 32 bits for the number of values, 5 bits for word size - 1 (8 bits: 7), four 4-bit run
length sizes less one (3, 4, 8, 16 bits), then runs; a run is one flag bit (1: `length` copies of one value, 0:
`length` literal values), 2 bits choosing the length field's size, the field (length - 1), and the value(s). The
stream is padded with zero bits to whole bytes (Label Studio's encoder pads a whole byte when already aligned).
"""

from __future__ import annotations

from typing import Final

import numpy as np

WORD_BITS: Final = 8
RUN_SIZES: Final = (3, 4, 8, 16)
MAX_RUN: Final = 2**16
MAX_VALUES: Final = 2**32 - 1


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run lengths and run values of a 1-d array (at least one value)."""
    ends = np.append(np.flatnonzero(values[1:] != values[:-1]), values.size - 1)
    lengths = np.diff(np.append(-1, ends))
    return lengths, values[ends]


def _run_bits(length: int, value: int) -> str:
    """One run as Label Studio's encoder writes it: a single value as a literal, longer runs as repeats in the
    smallest length field that holds them, runs past 2**16 split."""
    word = f"{value:08b}"
    if length == 1:
        return "0" + "00" + "000" + word
    parts = []
    while length > MAX_RUN:
        parts.append("1" + "11" + f"{MAX_RUN - 1:016b}" + word)
        length -= MAX_RUN
    for index, bits in enumerate(RUN_SIZES):
        if length <= 2**bits:
            parts.append("1" + f"{index:02b}" + f"{length - 1:0{bits}b}" + word)
            break
    return "".join(parts)


def encode_values(values: np.ndarray) -> list[int]:
    """Label Studio's RLE of a 1-d array of bytes, as the list of byte values its JSON carries."""
    flat = np.ascontiguousarray(values, dtype=np.uint8).ravel()
    if not 0 < flat.size <= MAX_VALUES:
        raise ValueError(f"a brush RLE holds 1 to {MAX_VALUES} values (got {flat.size})")
    header = f"{flat.size:032b}" + f"{WORD_BITS - 1:05b}" + "".join(f"{bits - 1:04b}" for bits in RUN_SIZES)
    lengths, run_values = _runs(flat)
    body = "".join(_run_bits(int(n), int(v)) for n, v in zip(lengths, run_values, strict=True))
    bits = header + body
    bits += "0" * (8 - len(bits) % 8)
    return list(int(bits, 2).to_bytes(len(bits) // 8, "big"))


def encode_mask(mask: np.ndarray) -> list[int]:
    """A 2-d mask (non-zero inside) as Label Studio's brush RLE: RGBA bytes, 255 inside, 0 outside."""
    if mask.ndim != 2:
        raise ValueError(f"a brush mask is 2-d (got shape {mask.shape})")
    inside = np.where(mask != 0, 255, 0).astype(np.uint8)
    return encode_values(np.repeat(inside.ravel(), 4))
