"""How a task is shown in the history and to each reader: `TaskPublic` plus what a person recognises it by."""

from __future__ import annotations

from pydantic import Field

from registry.schemas import TaskPublic


class TaskShown(TaskPublic):
    owner: str = Field(description="The username of whoever submitted the task.")
    public: bool = Field(
        default=False,
        description="True when the reader is not the submitter but may reproduce the task: this is its public view "
        "(no logs, run ids or input photos; outputs as the reader may read them).",
    )
    model: str | None = Field(
        default=None, description="The version that runs, as `owner/name vN`; null on a dataset alone or unseen."
    )
    kind: str | None = Field(default=None, description="The kind of the resource that runs (e.g. segmenter.sam).")
    input_names: list[str] = Field(default_factory=list, description="The file names of the input photos.")
    dataset_name: str | None = Field(default=None, description="The dataset's name, when the reader may read it.")
    thumbnail_url: str | None = Field(
        default=None,
        description="A small preview (first input photo or first image output), to fetch with the same token; "
        "null when the task has none.",
    )
