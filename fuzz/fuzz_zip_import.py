"""Fuzz the zip import's planning (names, headers, inflating with counted bytes, decoding each distinct image).

Documented errors: InvalidInput (InvalidImage included) and TooLarge.
"""

from __future__ import annotations

import io

from fuzz.harness import fuzz, instrumented

with instrumented(__name__ == "__main__", extra=("zipfile",)):
    from commons.errors import InvalidInput, TooLarge
    from registry.dataset_zip import ZipLimits, open_archive, plan_import

LIMITS = ZipLimits(
    max_bytes=8 * 1024 * 1024,
    max_entries=64,
    max_ratio=100,
    max_entry_bytes=1024 * 1024,
    max_pixels=4_000_000,
    max_seconds=5.0,
)
MAX_PIXELS = 1_000_000


def target(data: bytes) -> None:
    try:
        with open_archive(io.BytesIO(data)) as archive:
            plan_import(archive, limits=LIMITS, max_pixels=MAX_PIXELS)
    except (InvalidInput, TooLarge):
        pass


if __name__ == "__main__":
    fuzz(target)
