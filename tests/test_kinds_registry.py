"""The kinds registry: every kind and mode resolves to a spec whose parts are real, and a kind added from its
own package (`tests/toy_kind`) with one registration line runs end to end through the REST API."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from commons.errors import InvalidInput
from commons.settings import Settings
from flows.kinds import KINDS, KindRegistry
from flows.kinds.spec import Inputs, KindSpec
from registry.vocabulary import DATASET_ONLY_MODES, Mode
from tests.conftest import RunningStack, api_settings
from tests.toy_kind import KIND as TOY
from tests.toy_kind import NAME as TOY_NAME

BUILT_IN = {
    "segmenter.sam": {"infer", "export", "embed"},
    "classifier.resnet": {"infer", "train", "evaluate", "export", "inspect", "edit"},
    "classifier.blocks": {"infer", "train", "evaluate", "export"},
    "dataset": {"augment"},
}


def test_every_kind_and_mode_resolves_to_a_runner_and_a_parameter_reader() -> None:
    seen = {kind.name: {str(mode) for mode in kind.modes} for kind in KINDS}
    assert seen == BUILT_IN
    for kind in KINDS:
        for mode, spec in kind.modes.items():
            assert KINDS.runner(kind.name, mode) is spec.runner
            assert callable(spec.runner) and callable(spec.params)
            assert spec.runner.__module__.startswith(("flows.kinds.", "tests.")), spec.runner
            assert kind.steps(mode) == ("init", mode, "publish")
            assert Mode(mode) == mode
        assert kind.for_resources == DATASET_ONLY_MODES.isdisjoint(kind.modes), kind.name  # the registry's rule
        if kind.for_resources:
            assert kind.parse_config is not None and kind.check_weights is not None and kind.memory is not None
    assert KINDS.resource_kinds() == ["segmenter.sam", "classifier.resnet", "classifier.blocks"]


def test_modes_take_what_their_spec_says() -> None:
    assert KINDS.mode("classifier.resnet", "inspect").max_inputs == 1
    assert KINDS.mode("classifier.resnet", "edit").inputs is Inputs.NONE
    assert {m for m, s in KINDS.get("classifier.resnet").modes.items() if s.inputs is Inputs.DATASET} == {
        "train",
        "evaluate",
        "export",
    }
    assert [m for m, s in KINDS.get("classifier.resnet").modes.items() if s.warm] == ["infer"]
    export = KINDS.mode("classifier.blocks", "export")
    assert export.publishes({"formats": ["onnx", "int8"]}) and not export.publishes({"formats": ["onnx"]})


def test_unknown_kinds_and_modes_are_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown kind 'dataset'; known kinds: segmenter.sam, classifier"):
        KINDS.resource_kind("dataset")  # the dataset-only tasks' kind is no kind a resource may have
    with pytest.raises(InvalidInput, match="unknown kind 'nope'"):
        KINDS.get("nope")
    with pytest.raises(InvalidInput, match="cannot run 'train' tasks; its modes are infer, export, embed") as refused:
        KINDS.mode("segmenter.sam", "train")
    assert refused.value.field == "mode"


def test_a_kind_is_registered_once() -> None:
    registry = KindRegistry([TOY])
    registry.register(TOY)  # the same spec again: no change
    clash = KindSpec(name=TOY_NAME, modes={})
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(clash)
    with pytest.raises(TypeError):
        registry.register("toy.brightness")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def toy_stack(shared_services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """An API and a worker that know the toy kind from one setting (and can import the tests package)."""
    from launcher.stack import Stack

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, saved]))
    try:
        with api_settings(
            shared_services,
            tmp_path_factory,
            backend="sqlite",
            work_pool="commons-toy-kind",
            extra_kinds=["tests.toy_kind"],
        ) as settings:
            stack = Stack(settings)
            try:
                stack.create_deployment()
                stack.start_worker()
                stack.start_api()
                yield RunningStack(settings=settings, backend="sqlite")
            finally:
                stack.stop()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((24, 32, 3), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_toy_kind_runs_end_to_end_through_the_rest_api(toy_stack: RunningStack, tmp_path: Path) -> None:
    provider = toy_stack.new_user()
    provider.create_resource(name="brightness", kind=TOY_NAME, title="Brightness", visibility="public")
    notes = tmp_path / "README.txt"
    notes.write_text("a toy kind has no weights")
    provider.upload_version("brightness", files=[notes], config={"threshold": 0.4})

    dark, light = provider.upload("dark.png", _png(30)), provider.upload("light.png", _png(220))
    body = {"resource": "brightness", "params": {"gain": 0}, "inputs": [dark["id"]]}
    refused = provider.http.post("/tasks", json=body)
    assert refused.status_code == 422 and "params.gain" in refused.json()["detail"], refused.text
    edit = provider.http.post("/tasks", json={"resource": "brightness", "mode": "edit"})
    assert edit.status_code == 422 and "its modes are infer" in edit.json()["detail"], edit.text
    nine = provider.http.post("/tasks", json={"resource": "brightness", "inputs": [dark["id"]] * 9})
    assert nine.status_code == 422 and "at most 8 upload ids" in nine.json()["detail"], nine.text

    task = provider.submit(resource="brightness", version=1, inputs=[dark["id"], light["id"]], params={"gain": 1.0})
    assert task["lane"] == "batch" and [s["name"] for s in task["steps"]] == ["init", "infer", "publish"]
    done = provider.wait(task["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    outputs = {o["name"]: json.loads(httpx.get(o["url"], timeout=30).content) for o in done["outputs"]}
    assert outputs["dark/brightness.json"] == {"brightness": round(30 / 255, 6), "bright": False}
    assert outputs["light/brightness.json"] == {"brightness": round(220 / 255, 6), "bright": True}
    manifest = json.loads(httpx.get(done["manifest_url"], timeout=30).content)
    assert manifest["resource"]["kind"] == TOY_NAME


def test_a_kind_outside_the_settings_is_unknown_to_the_api(stack: RunningStack) -> None:
    client = stack.new_user()
    answer = client.http.post("/resources", json={"name": "toy", "kind": TOY_NAME, "title": "Toy"})
    assert answer.status_code == 422 and answer.json()["field"] == "kind", answer.text
    assert "known kinds: segmenter.sam, classifier.resnet, classifier.blocks" in answer.json()["detail"]
