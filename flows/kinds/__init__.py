"""The kinds registry: every kind the commons runs, one `KindSpec` each (`flows/kinds/spec.py`).

A kind is a package here exporting `KIND`, listed once below (compare segment-anything's `sam_model_registry`
and Prefect's worker types). A deployment adds its own without editing this file: `COMMONS_EXTRA_KINDS` names
modules (importable by the API and the workers) that each export `KIND`; they are loaded on first use.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator

from commons.errors import InvalidInput
from flows.kinds import blocks, dataset, resnet, sam
from flows.kinds.spec import KindSpec, ModeSpec, Runner


class KindRegistry:
    """Kinds by name; the extra kinds of the settings are imported on first use."""

    def __init__(self, kinds: Iterable[KindSpec]) -> None:
        self._kinds: dict[str, KindSpec] = {}
        self._extras_loaded = False
        self._lock = threading.Lock()
        for kind in kinds:
            self.register(kind)

    def register(self, kind: KindSpec) -> None:
        """Add a kind; a second kind of the same name is a programming error (ValueError)."""
        if not isinstance(kind, KindSpec):
            raise TypeError(f"a kind is a KindSpec, not {type(kind).__name__}")
        known = self._kinds.get(kind.name)
        if known is not None and known is not kind:
            raise ValueError(f"kind {kind.name!r} is registered twice")
        self._kinds[kind.name] = kind

    def _load_extras(self) -> None:
        if self._extras_loaded:
            return
        with self._lock:
            if self._extras_loaded:
                return
            from commons.settings import get_settings

            for module in get_settings().extra_kinds:
                self.register(importlib.import_module(module).KIND)
            self._extras_loaded = True

    def get(self, name: str) -> KindSpec:
        """The kind called `name`, or InvalidInput listing the kinds a resource may have."""
        self._load_extras()
        found = self._kinds.get(name)
        if found is None:
            raise InvalidInput(f"unknown kind {name!r}; known kinds: {', '.join(self.resource_kinds())}", field="kind")
        return found

    def resource_kind(self, name: str) -> KindSpec:
        """The kind a new resource says it is: one of `resource_kinds()`."""
        kind = self.get(name)
        if not kind.for_resources:
            raise InvalidInput(f"unknown kind {name!r}; known kinds: {', '.join(self.resource_kinds())}", field="kind")
        return kind

    def resource_kinds(self) -> list[str]:
        self._load_extras()
        return [name for name, kind in self._kinds.items() if kind.for_resources]

    def mode(self, kind: str, mode: str) -> ModeSpec:
        return self.get(kind).mode(mode)

    def runner(self, kind: str, mode: str) -> Runner:
        return self.mode(kind, mode).runner

    def __iter__(self) -> Iterator[KindSpec]:
        self._load_extras()
        return iter(list(self._kinds.values()))


KINDS = KindRegistry([sam.KIND, resnet.KIND, blocks.KIND, dataset.KIND])
