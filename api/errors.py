"""Domain errors → HTTP responses with a readable `detail` (what was wrong, what to do)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.security import RateLimited
from commons.errors import (
    CommonsError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
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
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after)}
    body: dict[str, str] = {"detail": error.message}
    if error.field:
        body["field"] = error.field
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CommonsError, _handle_domain_error)
