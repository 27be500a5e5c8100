"""Untrusted JSON parsed with limits: no NaN or Infinity, no huge integers, no deep nesting.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity` (not JSON at all) and turns `1e999` into `inf`;
stored, they come back as `null` or break a later computation. An integer literal of thousands of digits
hits the interpreter's int-digits limit (a bare ValueError, a 500 where it escapes) and a deeply nested
document exhausts the recursion limit. `loads` refuses all of these with a `JsonRefused` that names the place
in the document (`auto.lr`, `items[3]`), so the API can answer 422 naming the field. The limit on digits is a
parse hook, not `sys.set_int_max_str_digits`, which would change the whole process.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

MAX_DEPTH: Final = 64  # objects and arrays inside one another; request bodies and configs nest a few levels
MAX_INT_DIGITS: Final = 64  # far above any count, size or seed; a 5,000-digit literal is refused unread


class JsonRefused(ValueError):
    """Well-formed but unacceptable JSON; `path` is where in the document (empty for the document itself)."""

    def __init__(self, problem: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.problem = problem
        self.path = path


class _Refused:
    """Stands in, during parsing, for a value that is refused once its place in the document is known."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number JSON allows; send a finite number (or null)")


def _float(text: str) -> float | _Refused:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"{text[:40]} is out of range for a number; send a finite number")
    return value


def _int(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return _Refused(f"an integer of {digits} digits is too long (at most {MAX_INT_DIGITS} digits)")
    return int(text)


def loads(text: str | bytes, *, prefix: str = "") -> Any:
    """Parse `text`; json.JSONDecodeError when it is not JSON, JsonRefused when it is but breaks a limit.

    `prefix` starts every path in the error (a form field's name, say)."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError as error:
        raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels of objects and arrays", path=prefix) from error
    _check(value, prefix=prefix)
    return value


def _check(document: Any, *, prefix: str) -> None:
    """Walk the parsed document (iteratively: it may be deep) for refused values and too much nesting."""
    pending: list[tuple[Any, str, int]] = [(document, prefix, 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, _Refused):
            raise JsonRefused(value.problem, path=path)
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels of objects and arrays", path=path)
            if isinstance(value, dict):
                pending.extend((item, f"{path}.{key}" if path else str(key), depth + 1) for key, item in value.items())
            else:
                pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
