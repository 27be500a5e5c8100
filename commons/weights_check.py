"""Cheap checks of an uploaded weights file's container, made before anything parses or inflates it.

`torch.load` on a zip checkpoint allocates each record at its *declared* uncompressed size and inflates a
DEFLATE-compressed record into it, so a 0.5 MB `.pth` holding one compressed entry of zeros costs half a
gigabyte before any check could refuse it. `torch.save` writes every record STORED, so a real checkpoint
never holds a compressed entry and its records add up to less than the file itself. This module reads only
the zip's end record and central directory (the standard `zipfile`, nothing is inflated) or a safetensors
header's length, and refuses what a real file never has. No torch import: the API and workers both call it
through `resources.weights` before every load of a user's weights.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from commons.errors import InvalidWeights
from commons.settings import Settings, get_settings

# What Python's zipfile raises on a malformed archive or entry (each seen by the fuzz harnesses): bad magic or
# directory, a truncated or corrupt deflate stream, an unsupported version or method, an encrypted entry
# (RuntimeError), header offsets outside the file (ValueError, OSError), a short header (struct.error).
ZIP_READ_ERRORS: Final = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
    struct.error,
)

ZIP_MAGIC: Final[bytes] = b"PK\x03\x04"
_EOCD: Final[bytes] = b"PK\x05\x06"
_EOCD64_LOCATOR: Final[bytes] = b"PK\x06\x07"
_EOCD64: Final[bytes] = b"PK\x06\x06"
_EOCD_SIZE: Final[int] = 22
_TAIL: Final[int] = _EOCD_SIZE + 0xFFFF  # the end record plus the longest zip comment
# Central-directory bytes one entry may take on average (46 fixed + name + extra fields): torch's names are
# short ("archive/data/17"), so a directory far larger than this per counted entry hides uncounted entries.
_DIRECTORY_BYTES_PER_ENTRY: Final[int] = 1024
_RESAVE: Final[str] = (
    "re-save it with torch.save(model.state_dict(), path) (torch's default zip format, every entry stored), "
    "or convert it to safetensors"
)


@dataclass(frozen=True)
class WeightsLimits:
    """What a weights file may hold; see the `max_weights_*` settings."""

    max_entries: int = 10_000
    max_legacy_bytes: int = 1024 * 1024
    max_header_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> WeightsLimits:
        return cls(
            max_entries=settings.max_weights_entries,
            max_legacy_bytes=settings.max_legacy_weights_bytes,
            max_header_bytes=settings.max_weights_header_bytes,
        )


def check_weights_container(path: Path, *, limits: WeightsLimits | None = None) -> None:
    """Raise InvalidWeights (field "weights") unless `path`'s container is safe to hand to its loader.

    `.safetensors`: the header's declared length fits the file and `limits.max_header_bytes`. Otherwise (a
    `.pth`/`.pt`): a zip must have at most `max_entries` entries, all stored (not compressed), unencrypted,
    each inside the file and together no larger than it; a file in torch's legacy (non-zip) format is
    accepted only up to `max_legacy_bytes`.
    """
    limits = limits or WeightsLimits.from_settings(get_settings())
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise InvalidWeights(f"weights file {path.name} cannot be read ({exc})", field="weights") from exc
    if path.name.lower().endswith(".safetensors"):
        check_safetensors_header(path.name, head, size=size, limits=limits)
    elif head.startswith(ZIP_MAGIC):
        check_torch_zip(path, size=size, limits=limits)
    elif size > limits.max_legacy_bytes:
        raise InvalidWeights(
            f"{path.name} is not a zip checkpoint (torch's legacy format, or not a checkpoint at all) and is "
            f"{size} bytes, more than the {limits.max_legacy_bytes} accepted in that format; {_RESAVE}",
            field="weights",
        )


def check_safetensors_header(name: str, head: bytes, *, size: int, limits: WeightsLimits) -> None:
    """The first 8 bytes are the little-endian length of a JSON header that must fit the file and the limit."""
    if len(head) < 8:
        raise InvalidWeights(
            f"{name} is not a valid safetensors file: {size} bytes is too short; re-save it with "
            "safetensors.torch.save_file",
            field="weights",
        )
    (length,) = struct.unpack("<Q", head[:8])
    if length > limits.max_header_bytes:
        raise InvalidWeights(
            f"{name} is not a valid safetensors file: its header declares {length} bytes, more than the limit of "
            f"{limits.max_header_bytes}; re-save it with safetensors.torch.save_file (fewer tensors or shorter "
            "metadata)",
            field="weights",
        )
    if 8 + length > size:
        raise InvalidWeights(
            f"{name} is not a valid safetensors file: its header declares {length} bytes but the file has {size} "
            "(truncated?); upload it again or re-save it with safetensors.torch.save_file",
            field="weights",
        )


def check_torch_zip(path: Path, *, size: int, limits: WeightsLimits) -> None:
    """Count the entries from the end record, then check every central-directory entry without inflating it."""
    count, directory_bytes = _end_record(path, size=size)
    if count > limits.max_entries or directory_bytes > max(count, 1) * _DIRECTORY_BYTES_PER_ENTRY:
        raise InvalidWeights(
            f"{path.name} holds {count} zip entries ({directory_bytes} bytes of directory), more than the limit of "
            f"{limits.max_entries}; a checkpoint has one entry per tensor storage, {_RESAVE}",
            field="weights",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except ZIP_READ_ERRORS as exc:
        raise InvalidWeights(
            f"{path.name} is not a readable zip checkpoint ({exc}); {_RESAVE}", field="weights"
        ) from exc
    if len(entries) > limits.max_entries:
        raise InvalidWeights(
            f"{path.name} holds {len(entries)} zip entries, more than the limit of {limits.max_entries}; {_RESAVE}",
            field="weights",
        )
    total = 0
    for info in entries:
        check_entry(path.name, info, size=size)
        total += info.file_size
    if total > size:
        raise InvalidWeights(
            f"{path.name}: its entries declare {total} bytes in all, more than the file's {size}; {_RESAVE}",
            field="weights",
        )


def check_entry(name: str, info: zipfile.ZipInfo, *, size: int) -> None:
    """One entry is stored, unencrypted, and its declared sizes agree and fit in the file."""
    entry = info.filename
    if info.flag_bits & 0x1:
        raise InvalidWeights(f"{name}: zip entry {entry!r} is encrypted; {_RESAVE}", field="weights")
    if info.compress_type != zipfile.ZIP_STORED:
        raise InvalidWeights(
            f"{name}: zip entry {entry!r} is compressed (method {info.compress_type}); torch.save stores every "
            f"entry uncompressed and a compressed one would be inflated to its declared size before any check "
            f"({info.file_size} bytes); {_RESAVE}",
            field="weights",
        )
    if info.file_size != info.compress_size or info.header_offset + info.compress_size > size:
        raise InvalidWeights(
            f"{name}: zip entry {entry!r} declares {info.file_size} bytes ({info.compress_size} stored at offset "
            f"{info.header_offset}), which does not fit in the file's {size}; the file is damaged, {_RESAVE}",
            field="weights",
        )


def _end_record(path: Path, *, size: int) -> tuple[int, int]:
    """(entry count, central directory bytes) from the zip's end record (zip64 when it says so)."""
    with path.open("rb") as handle:
        start = max(0, size - _TAIL)
        handle.seek(start)
        tail = handle.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < _EOCD_SIZE:
            raise InvalidWeights(
                f"{path.name} starts like a zip but has no end record (truncated?); upload it again or {_RESAVE}",
                field="weights",
            )
        count, directory_bytes = struct.unpack("<xxxxxxxxxxHI", tail[at : at + 16])
        locator = tail.rfind(_EOCD64_LOCATOR, 0, at)
        if (count == 0xFFFF or directory_bytes == 0xFFFFFFFF) and locator >= 0 and at - locator == 20:
            (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
            if offset + 56 > size:
                raise InvalidWeights(
                    f"{path.name}: its zip64 end record lies outside the file; {_RESAVE}", field="weights"
                )
            handle.seek(offset)
            record = handle.read(56)
            if not record.startswith(_EOCD64):
                raise InvalidWeights(f"{path.name}: its zip64 end record is damaged; {_RESAVE}", field="weights")
            count, directory_bytes = struct.unpack("<QQ", record[32:48])
    return count, directory_bytes
