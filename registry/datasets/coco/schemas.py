"""What a COCO import answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from registry.dataset_schemas import DatasetPublic


class CocoImportPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    dataset: DatasetPublic
    added: int = Field(description="Photos stored in the new dataset (distinct contents).")
    classes: list[str] = Field(description="The categories, in id order: the dataset's classes.")
    labelled: int = Field(description="Photos whose annotations name one category: labelled with it.")
    mixed: int = Field(description="Photos whose annotations name several categories: imported unlabelled.")
    duplicates: int = Field(description="Listed images whose bytes another listed image has: stored once.")
    unlisted: int = Field(description="Files in the zip that the annotations do not list: not imported.")
