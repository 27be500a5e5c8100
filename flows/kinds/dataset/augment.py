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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from commons.errors import InvalidInput
from commons.hashing import sha256_bytes
from commons.image_io import decode_image, encode_png
from flows.steps.prepare import DatasetFile, DatasetInput, Prepared
from flows.steps.records import DatasetProduct
from flows.steps.reporting import Reporter, TaskCancelled

if TYPE_CHECKING:
    from resources.augment import AnyOperation

SCHEMA: Final = "model-commons/augmentation/1"
PREVIEW_ROWS: Final = 4
PREVIEW_CELL: Final = 96


def augment_dataset(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.augment import parse_augment_params

    dataset = prepared.dataset
    if dataset is None:
        raise InvalidInput("an augment task needs a dataset", field="dataset")
    params = parse_augment_params(prepared.params)
    operations = list(params.operations)
    out = prepared.outputs
    photos = prepared.work_dir / "derived"
    out.mkdir(parents=True, exist_ok=True)
    photos.mkdir(parents=True, exist_ok=True)

    report.progress(0.0)
    derived = _Derived(folder=photos, keep_original=params.keep_original, operations=operations)
    for position, item in enumerate(dataset.items):
        if report.should_stop():
            raise TaskCancelled(f"task {prepared.task_id} was cancelled after {position} photos")
        derived.add(item, max_image_pixels=max_image_pixels)
        report.progress((position + 1) / max(len(dataset.items), 1))
    records, duplicates, preview = derived.records, derived.duplicates, derived.preview

    name = params.name or f"{dataset.name} (augmented)"[:200]
    summary = _summary(dataset, derived, name=name, keep_original=params.keep_original)
    (out / "augmentation.json").write_text(json.dumps(summary, indent=2))
    files = [out / "augmentation.json"]
    if preview:
        (out / "preview.png").write_bytes(encode_png(_contact_sheet(preview)))
        files.append(out / "preview.png")
    prepared.product = DatasetProduct(
        name=name,
        classes=dataset.classes,
        photos=[(photos / record["path"], record["name"], record["label"]) for record in records],
        source_id=dataset.id,
        source_name=dataset.name,
        derivation={
            "task": prepared.task_id,
            "method": "augment",
            "source": dataset.describe(),
            "keep_original": params.keep_original,
            "operations": summary["operations"],
            "items": len(records),
            "duplicates_skipped": duplicates,
        },
    )
    report.progress(1.0)
    return files


def _summary(dataset: DatasetInput, derived: _Derived, *, name: str, keep_original: bool) -> dict[str, Any]:
    """`augmentation.json`: every derived photo (name, label, source photo, operation, sha256)."""
    return {
        "schema": SCHEMA,
        "source": dataset.describe(),
        "name": name,
        "keep_original": keep_original,
        "operations": [operation.model_dump(mode="json") for operation in derived.operations],
        "source_items": len(dataset.items),
        "items": len(derived.records),
        "duplicates_skipped": derived.duplicates,
        "classes": dataset.classes,
        "photos": [{k: v for k, v in record.items() if k != "path"} for record in derived.records],
    }


@dataclass
class _Derived:
    """The derived dataset as it grows, photo by photo: each photo written once into `folder` (a copy
    identical to one already there is counted in `duplicates` and left out), its record, and the first
    PREVIEW_ROWS rows of the preview (a photo's original and copies)."""

    folder: Path
    keep_original: bool
    operations: list[AnyOperation]
    records: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    preview: list[list[np.ndarray]] = field(default_factory=list)

    def add(self, item: DatasetFile, *, max_image_pixels: int) -> None:
        """The photo (unless `keep_original` is false) and one copy per operation."""
        from resources.augment import apply

        data = item.file.path.read_bytes()
        image = decode_image(data, name=item.name, max_pixels=max_image_pixels)
        row: list[np.ndarray] = []
        variants: list[tuple[AnyOperation | None, np.ndarray]] = [(None, image)] if self.keep_original else []
        variants += [(operation, apply(image, operation)) for operation in self.operations]
        for operation, array in variants:
            if self._write(item, data=data, operation=operation, array=array):
                row.append(array)
        if len(self.preview) < PREVIEW_ROWS:
            self.preview.append(row)

    def _write(self, item: DatasetFile, *, data: bytes, operation: AnyOperation | None, array: np.ndarray) -> bool:
        """Write one variant and record it; False for a duplicate (e.g. the mirror image of a symmetric
        photo: the dataset holds each photo once)."""
        from resources.augment import derived_name, describe

        payload = data if operation is None else encode_png(array)
        sha = sha256_bytes(payload)
        name = item.name if operation is None else derived_name(_png_name(item.name), operation)
        if sha in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(sha)
        path = self.folder / f"{len(self.records):06d}-{sha[:16]}"
        path.write_bytes(payload)
        self.records.append(
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
        return True


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
