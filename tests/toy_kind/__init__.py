"""A toy kind, `toy.brightness`, made the way every kind is: this one package and one registration line (here
`COMMONS_EXTRA_KINDS=["tests.toy_kind"]`; a built-in kind is one line in `flows/kinds/__init__.py`).

Its config has a threshold; its one mode, infer, writes each photo's mean brightness and whether it is over
the threshold, on the batch lane. It exists to prove that nothing outside a kind's package names the kind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commons.image_io import decode_image
from flows.kinds.spec import Inputs, KindSpec, ModeSpec, ParamsRequest
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter
from registry.vocabulary import Mode
from resources.schema import parse_model

NAME = "toy.brightness"


class ToyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="Brightness (0-1) a bright photo is over.")


class ToyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gain: float = Field(default=1.0, gt=0.0, le=10.0, description="Brightness is multiplied by this first.")


def parse_config(raw: Mapping[str, Any]) -> ToyConfig:
    return parse_model(ToyConfig, raw, prefix="config")


def _params(request: ParamsRequest) -> BaseModel:
    return parse_model(ToyParams, request.raw, prefix="params")


def infer_brightness(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    """`<stem>/brightness.json` for each photo: its mean brightness (0-1) times the gain, and `bright`."""
    config = parse_config(prepared.config)
    params = parse_model(ToyParams, prepared.params, prefix="params")
    files = []
    for index, upload in enumerate(prepared.inputs):
        image = decode_image(upload.file.path.read_bytes(), name=upload.name, max_pixels=max_image_pixels)
        brightness = min(1.0, float(image.mean()) / 255.0 * params.gain)
        path = prepared.outputs / upload.stem / "brightness.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"brightness": round(brightness, 6), "bright": brightness > config.threshold}))
        files.append(path)
        report.progress((index + 1) / len(prepared.inputs))
    return files


KIND = KindSpec(
    name=NAME,
    parse_config=parse_config,
    modes={Mode.INFER: ModeSpec(infer_brightness, _params, Inputs.UPLOADS, max_inputs=8)},
)
