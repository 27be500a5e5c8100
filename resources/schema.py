"""Pydantic validation that fails with `InvalidInput` naming the field, shared by every resource kind.

No torch here: the API imports the kinds' config modules, which build on this one, to validate uploads
and task requests cheaply. `parse_model` turns a `ValidationError` into one message such as
``params.epochs: must be ≥ 1 (got 0)`` with `field` set to the first failing path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from pydantic import AllowInfNan, BaseModel, Strict, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from commons.errors import InvalidInput

# Strict scalars: JSON true is not 1, "12" is not 12; an int is still accepted where a float is wanted.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), AllowInfNan(False)]
Bool = Annotated[bool, Strict()]
WEIGHT_SUFFIXES: Final[tuple[str, ...]] = (".safetensors", ".pth", ".pt")
_WEIGHTS_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_SHOWN: Final[int] = 5
_Model = TypeVar("_Model", bound=BaseModel)


def field_error(field: str, reason: str) -> PydanticCustomError:
    """An error raised by a validator that still names the field it is about (relative to the model)."""
    return PydanticCustomError("field_error", "{field}: {reason}", {"field": field, "reason": reason})


def check_weights_name(value: str) -> str:
    """A config's `checkpoint`: a plain file name ending in a weights suffix; ValueError otherwise."""
    if not _WEIGHTS_NAME.fullmatch(value):
        raise ValueError(f"must be a plain file name (letters, digits, '.', '_', '-', no folders), got {value!r}")
    if not value.lower().endswith(WEIGHT_SUFFIXES):
        raise ValueError(f"must end in .safetensors, .pth or .pt (got {value!r})")
    return value


def parse_model(model: type[_Model], raw: Mapping[str, Any], *, prefix: str) -> _Model:
    """Validate `raw` as `model`; errors become one InvalidInput naming `<prefix>.<path>` (first 5 shown)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{prefix} must be a JSON object (got {type(raw).__name__})", field=prefix)
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = [describe_error(error, prefix) for error in exc.errors()]
        shown = "; ".join(message for _, message in problems[:_SHOWN])
        if len(problems) > _SHOWN:
            shown += f" (and {len(problems) - _SHOWN} more)"
        raise InvalidInput(shown, field=problems[0][0]) from None


def describe_error(error: ErrorDetails, prefix: str) -> tuple[str, str]:
    """(field path, 'path: reason') for one pydantic error."""
    path = prefix
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    ctx = error.get("ctx", {})
    if error["type"] == "field_error":
        return _join(path, str(ctx["field"])), f"{_join(path, str(ctx['field']))}: {ctx['reason']}"
    return path, f"{path}: {_reason(error['type'], ctx, error.get('input'), error['msg'])}"


def _join(path: str, field: str) -> str:
    return path + (field if field.startswith("[") else f".{field}")


def _reason(kind: str, ctx: dict[str, Any], given: Any, fallback: str) -> str:
    shown = _show(given)
    templates = {
        "missing": "is required",
        "extra_forbidden": "is not a known field; check the spelling or leave it out",
        "greater_than_equal": f"must be ≥ {_bound(ctx.get('ge'))} (got {shown})",
        "greater_than": f"must be > {_bound(ctx.get('gt'))} (got {shown})",
        "less_than_equal": f"must be ≤ {_bound(ctx.get('le'))} (got {shown})",
        "less_than": f"must be < {_bound(ctx.get('lt'))} (got {shown})",
        "literal_error": f"must be {ctx.get('expected')} (got {shown})",
        "too_short": f"must have at least {ctx.get('min_length')} item(s) (got {ctx.get('actual_length')})",
        "too_long": f"must have at most {ctx.get('max_length')} items (got {ctx.get('actual_length')})",
        "finite_number": f"must be a finite number (got {shown})",
        "string_too_short": f"must have at least {ctx.get('min_length')} character(s)",
        "string_too_long": f"must have at most {ctx.get('max_length')} characters",
    }
    if kind in templates:
        return templates[kind]
    for stem, wanted in (
        ("int_", "an integer"),
        ("float_", "a number"),
        ("bool_", "true or false"),
        ("string_", "a string"),
        ("list_", "a list"),
        ("tuple_", "a list"),
        ("dict_", "an object"),
        ("model_", "an object"),
    ):
        if kind.startswith(stem):
            return f"must be {wanted} (got {shown})"
    message = fallback.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _bound(value: Any) -> str:
    """1.0 → "1", 0.5 → "0.5": limits read as written in the docs."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
