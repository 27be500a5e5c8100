"""Domain errors → HTTP responses with a readable `detail` (what was wrong, what to do)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.security import RateLimited
from commons.errors import (
    CommonsError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    TaskQuotaExceeded,
    TooLarge,
    Unauthorized,
)

STATUS_BY_ERROR: list[tuple[type[CommonsError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (InvalidInput, 422),
    (RateLimited, 429),
    (TaskQuotaExceeded, 429),
    (ServiceUnavailable, 503),
]


def status_for(error: CommonsError) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 500


async def _handle_domain_error(_request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, CommonsError):  # pragma: no cover - registered for CommonsError only
        raise error
    status = status_for(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, RateLimited | TaskQuotaExceeded):
        headers = {"Retry-After": str(error.retry_after)}
    body: dict[str, str] = {"detail": error.message}
    if error.field:
        body["field"] = error.field
    return JSONResponse(status_code=status, content=body, headers=headers)


REDACTED = "[redacted]"
SECRET_WORDS = (
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "credential",
    "private_key",
)


def is_secret_field(name: object) -> bool:
    """Whether a field (or body key) of this name carries a secret: passwords, tokens, keys."""
    return isinstance(name, str) and any(word in name.lower() for word in SECRET_WORDS)


def _redact(value: Any) -> Any:
    """`value` with whatever sits under a secret-named key replaced (a whole body echoed as an error's input)."""
    if isinstance(value, dict):
        return {key: REDACTED if is_secret_field(key) else _redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item) for item in value]
    return value


def redacted_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's validation errors without the secrets they would echo: the `input` and `ctx` of an error on a
    secret field are dropped, and secret values inside any other echoed input are replaced."""
    cleaned = []
    for error in errors:
        item = dict(error)
        # A field the model does not know echoes nothing: its name says nothing about what was sent in it.
        if item.get("type") == "extra_forbidden" or any(is_secret_field(part) for part in item.get("loc", ())):
            item.pop("input", None)
            item.pop("ctx", None)
        elif "input" in item:
            item["input"] = _redact(item["input"])
        cleaned.append(item)
    return cleaned


async def _handle_validation_error(_request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):  # pragma: no cover - registered for it only
        raise error
    errors = redacted_errors(error.errors())
    return JSONResponse(status_code=422, content=validation_body(errors))


PREFIXES = ("Value error, ", "Assertion failed, ")
# Pydantic's own wording where it is not a plain sentence for a person filling in a form.
PLAIN_WORDING = {
    "extra_forbidden": "This is not a field this request takes; remove it",
}


def plain_message(error: dict[str, Any]) -> str:
    """An error's message as a person reads it: without pydantic's "Value error, " prefix, a capital first."""
    message = PLAIN_WORDING.get(str(error.get("type")), str(error.get("msg") or "invalid value"))
    for prefix in PREFIXES:
        message = message.removeprefix(prefix)
    return message[:1].upper() + message[1:]


def field_path(error: dict[str, Any]) -> str:
    """Where the error is, as a form names its control: "username", "config.arch" (no "body." in front)."""
    loc = [str(part) for part in error.get("loc", ())]
    return ".".join(loc[1:] if len(loc) > 1 and loc[0] in {"body", "query", "path", "header", "form"} else loc)


def validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The one error shape, for request validation too: `detail` says what was wrong in words ("title: Field
    required"), `field` names the first field and `message` says what is wrong with it (for a page to show next
    to that control), `fields` pairs every field with its message, and `errors` keeps pydantic's list (each
    `msg` in plain words) for programs."""
    plain = [{**error, "msg": plain_message(error)} for error in errors]
    fields = [{"field": field_path(e) or "request", "message": e["msg"]} for e in plain]
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in fields) or "invalid request"
    return {
        "detail": detail,
        "field": field_path(plain[0]) if plain else None,
        "message": fields[0]["message"] if fields else detail,
        "fields": fields,
        "errors": jsonable_encoder(plain),
    }


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CommonsError, _handle_domain_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
