"""What a script or the command line writes, turned into what the API takes: `owner/name:3` into a resource and
a version, `k=v` pairs into a parameters object."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from launcher.sdk.errors import BadArgument

MAX_PARAM_DEPTH = 8


def resource_ref(text: str) -> tuple[str, int | str]:
    """`owner/name`, `owner/name:3` or `name:latest` → (resource, version); the version is `latest` when left out.

    >>> resource_ref("alice/sam:2")
    ('alice/sam', 2)
    >>> resource_ref("alice/sam")
    ('alice/sam', 'latest')
    """
    name, _, version = text.strip().partition(":")
    if not name:
        raise BadArgument(f"{text!r} names no resource: write RESOURCE or RESOURCE:VERSION, e.g. alice/sam:2")
    if not version or version == "latest":
        return name, "latest"
    if not version.isdigit() or int(version) < 1:
        raise BadArgument(f"version {version!r} of {name} is not a number from 1 up, nor 'latest'")
    return name, int(version)


def _value(text: str) -> Any:
    """JSON when it reads as JSON (numbers, true/false, lists, objects, quoted strings), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def params_from_pairs(pairs: Iterable[str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`k=v` pairs on top of `base`; a dotted key sets a nested field, a value is JSON when it reads as JSON.

    >>> params_from_pairs(["mode=auto", "auto.points_per_side=4", 'outputs=["json"]'])
    {'mode': 'auto', 'auto': {'points_per_side': 4}, 'outputs': ['json']}
    """
    params: dict[str, Any] = dict(base or {})
    for pair in pairs:
        key, equals, text = pair.partition("=")
        path = key.strip().split(".")
        if not equals or not all(path):
            raise BadArgument(f"parameter {pair!r} is not KEY=VALUE (a dotted KEY sets a nested field: auto.x=1)")
        if len(path) > MAX_PARAM_DEPTH:
            raise BadArgument(f"parameter {key!r} nests deeper than {MAX_PARAM_DEPTH} levels")
        target = params
        for part in path[:-1]:
            inner = target.setdefault(part, {})
            if not isinstance(inner, dict):
                raise BadArgument(f"parameter {key!r}: {part!r} is already set to a value, not an object")
            target = inner
        target[path[-1]] = _value(text)
    return params


def params_object(text: str) -> dict[str, Any]:
    """A JSON object of parameters (`--params '{"mode": "auto"}'`)."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise BadArgument(f"the parameters are not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise BadArgument('the parameters must be a JSON object, e.g. \'{"mode": "auto"}\'')
    return value
