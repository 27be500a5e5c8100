"""The augment step: a derived dataset in which every photo of the snapshot also appears transformed.

For each photo of the task's dataset snapshot (snapshot order, labelled or not) the original (unless
`params.keep_original` is false) and one copy per operation (rotate, blur, flip left-right, flop top-bottom,
with the caller's parameters; see `resources.augment`) go into the new dataset, each with the photo's label.
The original keeps its bytes; the copies are PNG (lossless). Outputs: `augmentation.json` (every derived
photo: its name, label, source photo, operation and sha256 — so a re-run checks every byte) and
`preview.png` (the first photos and their copies, one row each). The publish step stores the photos as a
new dataset of the task's owner with the lineage in `derivation`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from commons.errors import InvalidInput
from commons.hashing import sha256_bytes
from commons.image_io import decode_image, encode_png
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter, TaskCancelled

if TYPE_CHECKING:
    from resources.augment import AnyOperation

SCHEMA: Final = "model-commons/augmentation/1"
PREVIEW_ROWS: Final = 4
PREVIEW_CELL: Final = 96


def augment_dataset(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.augment import apply, derived_name, describe, parse_augment_params

    dataset = prepared.dataset
    if dataset is None:
        raise InvalidInput("an augment task needs a dataset", field="dataset")
    params = parse_augment_params(prepared.params)
    operations = list(params.operations)
    out = prepared.work_dir / "outputs"
    photos = prepared.work_dir / "derived"
    out.mkdir(parents=True, exist_ok=True)
    photos.mkdir(parents=True, exist_ok=True)

    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    duplicates = 0
    preview: list[list[np.ndarray]] = []
    report.progress(0.0)
    for position, item in enumerate(dataset.items):
        if report.should_stop():
            raise TaskCancelled(f"task {prepared.task_id} was cancelled after {position} photos")
        data = item.file.path.read_bytes()
        image = decode_image(data, name=item.name, max_pixels=max_image_pixels)
        row: list[np.ndarray] = []
        variants: list[tuple[AnyOperation | None, np.ndarray]] = [(None, image)] if params.keep_original else []
        variants += [(operation, apply(image, operation)) for operation in operations]
        for operation, array in variants:
            payload = data if operation is None else encode_png(array)
            sha = sha256_bytes(payload)
            name = item.name if operation is None else derived_name(_png_name(item.name), operation)
            if sha in seen:  # e.g. the mirror image of a symmetric photo: the dataset holds each photo once
                duplicates += 1
                continue
            seen.add(sha)
            path = photos / f"{len(records):06d}-{sha[:16]}"
            path.write_bytes(payload)
            records.append(
                {
                    "name": name,
                    "label": item.label,
                    "source_sha256": item.file.sha256,
                    "operation": "original" if operation is None else describe(operation),
                    "sha256": sha,
                    "size": len(payload),
                    "path": path.name,
                }
            )
            row.append(array)
        if len(preview) < PREVIEW_ROWS:
            preview.append(row)
        report.progress((position + 1) / max(len(dataset.items), 1))

    name = params.name or f"{dataset.name} (augmented)"[:200]
    summary = {
        "schema": SCHEMA,
        "source": dataset.describe(),
        "name": name,
        "keep_original": params.keep_original,
        "operations": [operation.model_dump(mode="json") for operation in operations],
        "source_items": len(dataset.items),
        "items": len(records),
        "duplicates_skipped": duplicates,
        "classes": dataset.classes,
        "photos": [{k: v for k, v in record.items() if k != "path"} for record in records],
    }
    (out / "augmentation.json").write_text(json.dumps(summary, indent=2))
    files = [out / "augmentation.json"]
    if preview:
        (out / "preview.png").write_bytes(encode_png(_contact_sheet(preview)))
        files.append(out / "preview.png")
    prepared.product = {
        "kind": "dataset",
        "name": name,
        "classes": dataset.classes,
        "photos": [(photos / record["path"], record["name"], record["label"]) for record in records],
        "derivation": {
            "task": prepared.task_id,
            "method": "augment",
            "source": dataset.describe(),
            "keep_original": params.keep_original,
            "operations": summary["operations"],
            "items": len(records),
            "duplicates_skipped": duplicates,
        },
    }
    report.progress(1.0)
    return files


def _png_name(name: str) -> str:
    """A copy's name: the photo's name with a .png extension (the copies are PNG whatever the original)."""
    stem = name.rsplit(".", 1)[0] if "." in name.rsplit("/", 1)[-1] else name
    return f"{stem}.png"


def _contact_sheet(rows: list[list[np.ndarray]]) -> np.ndarray:
    """HxWx3 uint8: one row per source photo, its original and copies side by side, each fitted into a
    PREVIEW_CELL square (aspect kept, black padding)."""
    from PIL import Image

    columns = max(len(row) for row in rows)
    sheet = np.zeros((len(rows) * PREVIEW_CELL, columns * PREVIEW_CELL, 3), dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, array in enumerate(row):
            picture = Image.fromarray(array).convert("RGB")
            picture.thumbnail((PREVIEW_CELL, PREVIEW_CELL))
            cell = np.asarray(picture)
            top = r * PREVIEW_CELL + (PREVIEW_CELL - cell.shape[0]) // 2
            left = c * PREVIEW_CELL + (PREVIEW_CELL - cell.shape[1]) // 2
            sheet[top : top + cell.shape[0], left : left + cell.shape[1]] = cell
    return sheet
