"""What a Label Studio import answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from registry.dataset_schemas import DatasetPublic


class LabelStudioImportPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    dataset: DatasetPublic
    added: int = Field(description="Photos stored in the new dataset (distinct contents).")
    classes: list[str] = Field(description="The choices the annotations name, in first-seen order: the classes.")
    labelled: int = Field(description="Photos whose annotations choose one class: labelled with it.")
    unlabelled: int = Field(description="Photos without a choice (no annotation, or cancelled ones only).")
    mixed: int = Field(description="Photos whose annotations choose several classes: imported unlabelled.")
    duplicates: int = Field(description="Tasks whose photo another task already has: stored once.")
