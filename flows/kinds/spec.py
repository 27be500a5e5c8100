"""What a kind is: one object, `KindSpec`, that says how its configs are read and checked and, per mode, what a
task takes, how its parameters are read, where it may run, whether it publishes and which runner does the work.

A kind is a package under `flows/kinds/` exporting `KIND`; `flows/kinds/__init__.py` lists them (compare
`sam_model_registry` in segment-anything's `build_sam.py`). Everything that differs between kinds is here;
the submit service, the dispatcher, the task flow and the warm lane ask the spec instead of naming kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from commons.errors import InvalidInput
from registry.vocabulary import Mode

if TYPE_CHECKING:
    from commons.settings import Settings
    from flows.steps.prepare import Prepared
    from flows.steps.reporting import Reporter
    from registry.models import Upload
    from registry.snapshot_schema import DatasetSnapshot
    from resources.cost import MemoryEstimate


class Inputs(StrEnum):
    """What a task of a mode reads besides the version."""

    UPLOADS = "uploads"  # upload ids in `inputs`: photos to run the model on
    DATASET = "dataset"  # a dataset, frozen into a snapshot when the task is submitted
    NONE = "none"  # only its `params`


class Runner(Protocol):
    """A kind's work for one mode: reads `prepared`, writes files under `prepared.outputs`."""

    def __call__(self, prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]: ...


@dataclass(frozen=True)
class ParamsRequest:
    """What a mode's parameter reader checks the raw `params` against."""

    mode: Mode
    raw: dict[str, Any]
    inputs: list[Upload] = field(default_factory=list)
    config: dict[str, Any] | None = None  # the version's (normalised) config; None for dataset-only tasks
    dataset: DatasetSnapshot | None = None  # the snapshot (`registry.dataset_snapshots`), for dataset modes


@dataclass(frozen=True)
class MemoryRequest:
    """What a kind's activation-memory estimate is asked about: a task (`params` set) or, at upload, one photo
    through the model (`params` None, mode infer)."""

    mode: Mode
    config: dict[str, Any]
    params: dict[str, Any] | None
    inputs: list[Upload]
    dataset: DatasetSnapshot | None
    settings: Settings


def _never(_params: dict[str, Any]) -> bool:
    return False


def always(_params: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class ModeSpec:
    """One mode of a kind."""

    runner: Runner
    params: Callable[[ParamsRequest], BaseModel]  # the validated parameters, library defaults filled in
    inputs: Inputs
    max_inputs: int | None = None  # uploads: at most this many (inspect follows one photo)
    warm: bool = False  # small tasks may run on the warm lane (long-lived workers with code loaded)
    publishes: Callable[[dict[str, Any]], bool] = _never  # with these validated params, publishes a version
    stores: bool = False  # may store a new version or dataset: the owner's storage quota is checked at submit


@dataclass(frozen=True)
class KindSpec:
    """A kind of resource (or, `for_resources` False, of dataset-only task) and everything that is its own."""

    name: str
    modes: Mapping[Mode, ModeSpec]
    parse_config: Callable[[Mapping[str, Any]], BaseModel] | None = None
    check_weights: Callable[[Path, BaseModel], None] | None = None  # the file loads safely and fits the config
    memory: Callable[[MemoryRequest], MemoryEstimate | None] | None = None
    warm_up: Callable[[], None] | None = None  # imports its warm-lane work needs, before the first task
    for_resources: bool = True

    def mode(self, mode: str) -> ModeSpec:
        """The mode's spec, or InvalidInput naming the modes this kind has."""
        found = self.modes.get(mode)  # type: ignore[call-overload]  # a StrEnum key equals its string
        if found is None:
            raise InvalidInput(
                f"a {self.name} version cannot run {mode!r} tasks; its modes are {', '.join(self.modes) or 'none'}",
                field="mode",
            )
        return found

    def config(self, raw: Any) -> dict[str, Any]:
        """The normalised config (defaults filled in), or InvalidInput naming the field."""
        if not isinstance(raw, dict):
            raise InvalidInput("config must be a JSON object", field="config")
        if self.parse_config is None:
            raise InvalidInput(f"kind {self.name!r} has no config schema", field="kind")
        return self.parse_config(raw).model_dump(mode="json", exclude_none=True)

    def steps(self, mode: str) -> tuple[str, ...]:
        """The steps a task of `mode` records, in order: init → the mode's work → publish."""
        self.mode(mode)
        return ("init", str(mode), "publish")
