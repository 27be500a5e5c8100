"""Request and response schemas of datasets, their classes, items and grants."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry.schemas import Derivatives, SourcePublic, Visibility, check_slug

UNLABELLED_FOLDER = "_unlabelled"
# The words of the dataset API's paths: `/datasets/alice/items` must not read as a dataset slugged `items`.
RESERVED_SLUGS = frozenset(
    {"items", "classes", "import", "export", "grants", "augment", "access-requests", "crate", "coco", "label-studio"}
)


def slug_from_name(name: str) -> str:
    """The slug a dataset named `name` gets unless one is given: lowercase letters, digits and '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "dataset"


def check_dataset_slug(value: str) -> str:
    if value in RESERVED_SLUGS:
        raise ValueError(f"{value!r} is a word of the API's paths; choose another slug")
    return check_slug(value)


# A class name is also a folder name in zip imports and exports: no separators, no leading dot or space.
_CLASS_NAME = re.compile(r"^[^/\\:\x00-\x1f.\s][^/\\:\x00-\x1f]{0,127}$")


def check_class_name(value: str) -> str:
    """The name itself if it can be a class (and a folder of a zip); ValueError says why not."""
    if not _CLASS_NAME.match(value) or value != value.strip():
        raise ValueError(
            "a class name has 1–128 characters, no '/', '\\', ':' or control characters, "
            "and does not start with '.' or end with a space"
        )
    if value == UNLABELLED_FOLDER:
        raise ValueError(f"{UNLABELLED_FOLDER!r} is reserved for unlabelled items; choose another name")
    return value


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(
        default=None,
        description="Where the dataset lives: /datasets/{owner}/{slug}. Default: made from the name (lowercase, "
        "'-' for other characters), with '-2', '-3', … if you already have one there.",
    )
    description: str = Field(default="", max_length=20_000)
    visibility: Visibility = "private"
    classes: list[str] = Field(default_factory=list, max_length=1000, description="Class names, in order.")

    @field_validator("classes")
    @classmethod
    def _classes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("class names must be distinct")
        return [check_class_name(name) for name in value]

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return None if value is None else check_dataset_slug(value)


class DatasetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(
        default=None, description="Owner only. Moves the dataset to /datasets/{owner}/{slug}; its id keeps working."
    )
    description: str | None = Field(default=None, max_length=20_000)
    visibility: Visibility | None = Field(default=None, description="Owner only.")
    derivatives: Derivatives | None = Field(
        default=None,
        description="Owner only. 'private': datasets made from this one (augmented copies) and models trained on "
        "it are readable only by those who may read it; 'open': their makers may share them.",
    )

    #: Fields only the owner (or an admin) may change.
    OWNER_FIELDS: ClassVar[frozenset[str]] = frozenset({"visibility", "derivatives", "slug"})

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return None if value is None else check_dataset_slug(value)


class DatasetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    slug: str
    ref: str = Field(description="owner/slug: the dataset's address in URLs (its id works as well).")
    description: str
    visibility: str
    owner: str
    classes: list[str]
    item_count: int
    labelled_count: int
    retained_items: int = Field(
        default=0, description="Deleted photos whose bytes are kept because tasks froze them in their snapshots."
    )
    retained_bytes: int = Field(default=0, description="The size of those photos, in bytes.")
    digest: str = Field(description="sha256 over the sorted (item sha256, class) pairs and the class list.")
    permissions: list[str]
    derivatives: str = "private"
    sources: list[SourcePublic] = Field(default_factory=list, description="What this dataset was made from.")
    source: str | None = Field(default=None, description="The dataset this one was derived from (e.g. augmented).")
    derivation: dict[str, Any] | None = Field(
        default=None, description="How it was derived: the task, the source's digest, the operations and parameters."
    )
    created_at: datetime
    updated_at: datetime


class ClassCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_class_name(value)


class ClassUpdate(ClassCreate):
    pass


class ClassPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    position: int
    item_count: int


class ItemUpdate(BaseModel):
    """`{"class": "name"}` labels the item, `{"class": null}` makes it unlabelled."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    label: str | None = Field(alias="class")


class ItemPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True, from_attributes=True)
    id: str
    sha256: str
    size: int
    width: int
    height: int
    content_type: str
    original_name: str
    label: str | None = Field(alias="class")
    created_at: datetime
    url: str | None = None


class ImportPublic(BaseModel):
    added: int
    existing: int = Field(description="Images already in the dataset (relabelled to their folder's class).")
    classes_created: list[str]
    dataset: DatasetPublic
