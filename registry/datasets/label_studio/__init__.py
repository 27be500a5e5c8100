"""A Label Studio JSON export imported as a new dataset (`importing`): `document` reads the export (its tasks,
their images and the classes their `choices` annotations name) within limits; `schemas` is what an import
answers."""

from __future__ import annotations

from registry.datasets.label_studio.document import EXPORT_FILE, MAX_DOCUMENT_BYTES, MAX_JSON_BYTES
from registry.datasets.label_studio.importing import LabelStudioOutcome, LabelStudioPlan, import_label_studio
from registry.datasets.label_studio.schemas import LabelStudioImportPublic

__all__ = [
    "EXPORT_FILE",
    "MAX_DOCUMENT_BYTES",
    "MAX_JSON_BYTES",
    "LabelStudioImportPublic",
    "LabelStudioOutcome",
    "LabelStudioPlan",
    "import_label_studio",
]
