"""Write the seed corpus kept in fuzz/corpus/ (small valid inputs of each harness): `python -m fuzz.make_corpus`.

Kept in the repository so that `make test` replays the same files (tests/security/test_fuzz_corpus.py);
run again only to change the seeds. Inputs libFuzzer finds go to a scratch folder, not here: copy one in
(named for what it shows) when it found a bug, so that it stays fixed.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save

from fuzz.harness import CORPUS
from resources.sam.model import TINY_CONFIG


def _image(mode: str, fmt: str, size: tuple[int, int] = (8, 6), **options: object) -> bytes:
    rng = np.random.default_rng(len(mode) + len(fmt))
    array = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(array).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def images() -> dict[str, bytes]:
    rotated = Image.Exif()
    rotated[0x0112] = 6
    return {
        "rgb.png": _image("RGB", "PNG"),
        "rgba.png": _image("RGBA", "PNG"),
        "one_bit.png": _image("1", "PNG"),
        "palette.png": _image("P", "PNG", transparency=0),
        "grey16.png": _image("I;16", "PNG"),
        "photo.jpg": _image("RGB", "JPEG", (16, 16)),
        "rotated.jpg": _image("RGB", "JPEG", (16, 8), exif=rotated),
        "grey.tiff": _image("L", "TIFF"),
        "float.tiff": _image("F", "TIFF"),
        "rgb.bmp": _image("RGB", "BMP"),
        "rgb.webp": _image("RGB", "WEBP", lossless=True),
    }


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            if name.endswith("/"):
                archive.mkdir(name.rstrip("/"))
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


def zips() -> dict[str, bytes]:
    png, jpg = images()["rgb.png"], images()["photo.jpg"]
    return {
        "two_classes.zip": _zip({"cat/a.png": png, "dog/b.jpg": jpg, "loose.png": images()["one_bit.png"]}),
        "copies.zip": _zip({"cat/a.png": png, "cat/b.png": png, "cat/c.png": png}),
        "folders.zip": _zip({"cat/": b"", "_unlabelled/": b"", "_unlabelled/x.png": png}, zipfile.ZIP_STORED),
        "macosx.zip": _zip({"__MACOSX/._a.png": b"junk", "cat/.DS_Store": b"x", "cat/a.png": png}),
        "empty.zip": _zip({}),
    }


def _torch(state: dict[str, torch.Tensor], *, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def weights() -> dict[str, bytes]:
    """First byte: 0 = the file is weights.pth, 1 = weights.safetensors (see fuzz_weights.selector)."""
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.zeros(2, dtype=torch.int64)}
    return {
        "zip.pth.bin": b"\0" + _torch(state),
        "legacy.pth.bin": b"\0" + _torch(state, legacy=True),
        "nested.pth.bin": b"\0" + _torch({"model": state}),  # type: ignore[dict-item]
        "tensors.safetensors.bin": b"\1" + save(state),
        "metadata.safetensors.bin": b"\1" + save(state, metadata={"format": "pt"}),
    }


LINEAR = {"type": "Linear", "in_features": 3 * 28 * 28, "out_features": 3}  # the default 3x28x28 input, flat


def configs() -> dict[str, bytes]:
    """First byte picks the parser (fuzz_configs.PARSERS): 0 blocks, 1 sam, 2 resnet, 3 sam infer, 4 train."""
    blocks = {
        "input_channels": 1,
        "input_size": 8,
        "classes": ["a", "b"],
        "blocks": [
            {"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "BatchNorm2d", "num_features": 4},
            {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Flatten"},
            {"type": "Dropout", "p": 0.1},
            {"type": "Linear", "in_features": 64, "out_features": 2},
        ],
    }
    found = {
        "blocks.json": (0, blocks),
        "blocks_defaults.json": (0, {"blocks": [{"type": "Flatten"}, LINEAR]}),
        "sam_tiny.json": (1, TINY_CONFIG),
        "resnet.json": (2, {"arch": "resnet18", "classes": ["cat", "dog"], "input_size": 64, "init_seed": 1}),
        "sam_auto.json": (3, {"mode": "auto", "auto": {"points_per_side": 4}}),
        "sam_points.json": (3, {"mode": "prompt", "prompt": {"points": [[1, 2, 1]], "boxes": [[0, 0, 4, 4]]}}),
        "train.json": (4, {"epochs": 2, "batch_size": 4, "lr": 0.01, "seed": 1}),
    }
    return {name: bytes([index]) + json.dumps(value).encode() for name, (index, value) in found.items()}


def main() -> None:
    every = {"images": images(), "zip_import": zips(), "weights": weights(), "configs": configs()}
    for harness, files in every.items():
        folder = CORPUS / harness
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        print(f"{harness}: {len(files)} files, {sum(map(len, files.values()))} bytes")


if __name__ == "__main__":
    main()
