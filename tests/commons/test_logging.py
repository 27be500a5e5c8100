"""Logging: JSON lines carry the task id inside `task_context` only; text output stays as it was."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import prefect  # noqa: F401 - configures logging the way every process of the commons has it
import pytest
from prefect.logging.handlers import PrefectConsoleHandler

from commons.logging import CONTEXT_FILTER, CommonsJsonHandler, configure_logging, log_context, task_context
from commons.settings import Settings


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    filters = {handler: list(handler.filters) for handler in handlers}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for handler, kept in filters.items():
        handler.filters[:] = kept


def settings(tmp_path: Path, log_format: Literal["text", "json"]) -> Settings:
    return Settings(data_dir=tmp_path, log_format=log_format)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_task_id_inside_task_context_only(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(settings(tmp_path, "json"), stream=stream)
    configure_logging(settings(tmp_path, "json"), stream=stream)  # a second call adds no second handler
    log = logging.getLogger("flows.test_logging")

    log.warning("before %s", "the task")
    with task_context("task-1"):
        log.warning("inside")
        logging.getLogger("prefect.test_logging").warning("a Prefect record")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
        with log_context(step="init"):
            log.warning("nested")
    log.warning("after")

    records = lines(stream)
    assert [r["message"] for r in records] == [
        "before the task",
        "inside",
        "a Prefect record",
        "it failed",
        "nested",
        "after",
    ]
    assert [r.get("task_id") for r in records] == [None, "task-1", "task-1", "task-1", "task-1", None]
    assert "task_id" not in records[0] and "task_id" not in records[-1]
    inside = records[1]
    assert inside["level"] == "WARNING" and inside["logger"] == "flows.test_logging" and inside["time"]
    assert "ValueError: boom" in records[3]["exc_info"]
    assert records[4]["step"] == "init" and "step" not in records[5]

    root = logging.getLogger()
    assert sum(isinstance(h, CommonsJsonHandler) for h in root.handlers) == 1
    assert not any(isinstance(h, PrefectConsoleHandler) for h in root.handlers), "no second, text copy of each line"


def test_the_task_id_does_not_leak_into_other_threads(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(settings(tmp_path, "json"), stream=stream)
    log = logging.getLogger("flows.test_logging")
    with task_context("task-a"):
        other = threading.Thread(target=lambda: log.warning("from another thread"))
        other.start()
        other.join()
        log.warning("from the task")
    by_message = {r["message"]: r for r in lines(stream)}
    assert "task_id" not in by_message["from another thread"]
    assert by_message["from the task"]["task_id"] == "task-a"


def test_request_fields_are_computed_when_the_record_is_made(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(settings(tmp_path, "json"), stream=stream)
    route = {"template": "unmatched"}
    with log_context(request_id="r-1", route=lambda: route["template"]):
        route["template"] = "/api/v1/tasks/{task_id}"  # the router matched after the context was set
        logging.getLogger("api.test_logging").warning("served")
    (record,) = lines(stream)
    assert record["request_id"] == "r-1" and record["route"] == "/api/v1/tasks/{task_id}"


def test_text_format_is_unchanged(tmp_path: Path) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    text = logging.StreamHandler(stream)
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    text.setFormatter(formatter)
    root.addHandler(text)
    before = list(root.handlers)

    configure_logging(settings(tmp_path, "text"))
    with task_context("task-2"):
        logging.getLogger("flows.test_logging").warning("hello")

    assert root.handlers == before and text.formatter is formatter
    assert stream.getvalue() == "WARNING flows.test_logging hello\n"
    assert CONTEXT_FILTER in text.filters, "records still carry task_id for a formatter that asks for it"


def test_text_after_json_removes_the_json_handler(tmp_path: Path) -> None:
    configure_logging(settings(tmp_path, "json"), stream=io.StringIO())
    configure_logging(settings(tmp_path, "text"))
    assert not any(isinstance(h, CommonsJsonHandler) for h in logging.getLogger().handlers)
