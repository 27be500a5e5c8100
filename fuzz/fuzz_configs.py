"""Fuzz the config parsers a version upload runs (`services.kinds.validate_config`: SAM, ResNet and blocks
configs, the blocks' shape inference included) and the task-parameter parsers.

Input: the first byte picks the parser, the rest is JSON text (inputs that are not JSON are skipped: the
API refuses them before any parser). Documented error: InvalidInput.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from fuzz.harness import fuzz, instrumented, selector

with instrumented(__name__ == "__main__"):
    from commons.errors import InvalidInput
    from resources.classifier.config import parse_train_params
    from resources.sam.config import parse_infer_params
    from services.kinds import validate_config


def _kind(kind: str) -> Callable[[Any], object]:
    return lambda raw: validate_config(kind, raw)


PARSERS: tuple[Callable[[Any], object], ...] = (
    _kind("classifier.blocks"),
    _kind("segmenter.sam"),
    _kind("classifier.resnet"),
    parse_infer_params,
    parse_train_params,
)


def target(data: bytes) -> None:
    parser, body = selector(data, PARSERS)
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return
    with contextlib.suppress(InvalidInput):
        parser(raw)


if __name__ == "__main__":
    fuzz(target)
