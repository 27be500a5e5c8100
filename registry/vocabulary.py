"""The words a task is described with: its mode, its status and its steps' status, and its lane.

String enums: each member equals its string (`Mode.INFER == "infer"`), so rows, JSON and old comparisons keep
working, and a typo in a name is a mypy error instead of a silent mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """What a task does with a version (or, augment, with a dataset alone)."""

    INFER = "infer"
    TRAIN = "train"
    EVALUATE = "evaluate"
    EXPORT = "export"
    INSPECT = "inspect"
    EDIT = "edit"
    AUGMENT = "augment"
    EMBED = "embed"


class TaskStatus(StrEnum):
    """pending → scheduled → running → succeeded | failed | cancelled; a step goes pending → running → an end."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    """A step's status: as a task's, and `skipped` for a step that never ran because the task ended before it."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class Lane(StrEnum):
    """Where a task runs: a long-lived warm worker, or a flow run of its own on the work pool."""

    WARM = "warm"
    BATCH = "batch"


# Modes that work on a dataset alone and never on a resource version (the `dataset` kind's, `flows/kinds/dataset`);
# the registry refuses a task row that mixes them up (`tests/test_kinds_registry.py` keeps the two in step).
DATASET_ONLY_MODES = frozenset({Mode.AUGMENT})
TERMINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})
ACTIVE = frozenset({TaskStatus.PENDING, TaskStatus.SCHEDULED, TaskStatus.RUNNING})
