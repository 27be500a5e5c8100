"""RO-Crates of the commons: a task as a Workflow Run Crate (`task_crate`), a resource version as an RO-Crate
(`version_crate`); what they share (`terms`, `packing`)."""

from __future__ import annotations

from registry.crates.packing import CrateRequest
from registry.crates.task_crate import write_task_crate
from registry.crates.terms import Links
from registry.crates.version_crate import VersionCrate, write_version_crate

__all__ = ["CrateRequest", "Links", "VersionCrate", "write_task_crate", "write_version_crate"]
