"""Process logging: Prefect's text lines, or JSON lines that carry the task (or request) being served.

Prefect configures logging when it is imported: a console handler on the root logger, its API handlers on
`prefect.*`. `configure_logging` leaves Prefect's loggers alone and only touches the root logger's handlers:
text keeps Prefect's console lines as they are; json replaces Prefect's console handler on the root with one
JSON handler (Prefect keeps a root handler that it did not make when it configures logging again).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from commons.settings import Settings

# Fields added to every record emitted in this context; a callable value is called when a record is made.
_fields: ContextVar[dict[str, Any] | None] = ContextVar("commons_log_fields", default=None)

JSON_FIELDS = ("asctime", "levelname", "name", "message")
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` (values, or callables giving them) to every log record emitted inside the block."""
    token = _fields.set({**(_fields.get() or {}), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def task_context(task_id: str) -> Any:
    """Every log record emitted while this task runs carries `task_id`."""
    return log_context(task_id=task_id)


def current_fields() -> dict[str, Any]:
    fields = _fields.get() or {}
    return {name: value() if callable(value) else value for name, value in fields.items()}


class ContextFilter(logging.Filter):
    """Sets the context's fields (`task_id`, `request_id`, `route`) as attributes of each record; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_fields().items():
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


CONTEXT_FILTER = ContextFilter()


class CommonsJsonHandler(logging.StreamHandler):
    """The root handler of `log_format=json`: one JSON object a line."""


def json_formatter() -> logging.Formatter:
    return JsonFormatter(list(JSON_FIELDS), rename_fields=JSON_RENAMES, json_ensure_ascii=False)


def _is_prefect_console(handler: logging.Handler) -> bool:
    from prefect.logging.handlers import PrefectConsoleHandler

    return isinstance(handler, PrefectConsoleHandler)


def configure_logging(settings: Settings, *, stream: IO[str] | None = None) -> None:
    """Set this process's log format from `settings.log_format`; safe to call more than once.

    Every root handler gets the context filter, so a record emitted inside `task_context` carries `task_id`
    whatever the format (text lines look as before).
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, CommonsJsonHandler)]
    if settings.log_format == "json":
        if not ours:
            json_handler = CommonsJsonHandler(stream or sys.stderr)
            json_handler.setFormatter(json_formatter())
            root.addHandler(json_handler)
        elif stream is not None:
            ours[0].setStream(stream)
        for console in [h for h in root.handlers if _is_prefect_console(h)]:
            root.removeHandler(console)
    else:
        for json_handler in ours:
            root.removeHandler(json_handler)
    for handler in root.handlers:
        if CONTEXT_FILTER not in handler.filters:
            handler.addFilter(CONTEXT_FILTER)
