"""Export, inspect and weight edit over REST on the embedded stack (issue 6).

A ResNet-18 trained on scikit-learn's digits 0-2 at 32 px (`trained_digits`, trained in this process)
is published as a float version; an export task makes the INT8 version (ONNX and TorchScript files as
outputs), inspect follows one digit through the float and the INT8 version, and an edit publishes a
version whose change shows at that layer and nowhere before it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from launcher.client import CommonsClient
from resources.classifier.resnet.model import save_weights
from tests.api.conftest import Published, status_of, task_output
from tests.api.test_classifier_training_api import digits_zip, import_dataset, png
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items
from tests.resources.test_classifier_quantize import trained_digits

# The registry paths these tasks use run on both backends elsewhere; the ~3 min of tasks here run once, on
# the production database.
pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)

CLASSES = ["zero", "one", "two"]
REPORT_COPY = Path(__file__).resolve().parents[2] / "test-output" / "quantization-report.md"
ACCURACY_MARGIN_POINTS = 10.0  # 30 held-out digits: 3 images


@dataclass
class Exported:
    provider: CommonsClient
    name: str
    dataset: dict[str, Any]
    export_task: dict[str, Any]
    int8_version: int
    digit: str  # upload id of one digit photo


def json_output(task: dict[str, Any], name: str) -> Any:
    return json.loads(task_output(task, name).content)


def publish_and_export(client: CommonsClient, folder: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A private float version of `trained_digits` (v1) and an export task that made its INT8 version;
    returns (resource name, dataset, the succeeded export task)."""
    trained = trained_digits()
    name = f"digits-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=name, kind="classifier.resnet", title="Digits ResNet-18", visibility="private")
    weights = folder / "weights.safetensors"
    save_weights(trained.model, path=weights)
    config = {**trained.config.model_dump(mode="json", exclude_none=True), "classes": CLASSES}
    client.upload_version(name, files=[weights], config={**config, "checkpoint": weights.name})
    dataset = import_dataset(client, digits_zip(per_class=20, unlabelled=0), name="Digits for export")
    task = client.submit(
        resource=name,
        version=1,
        mode="export",
        dataset=dataset["id"],
        params={"method": "percentile", "calibration_images": 30, "latency_repeats": 3},
    )
    done = client.wait(task["id"], timeout=600)
    assert done["status"] == "succeeded", done["error"]
    return name, dataset, done


@pytest.fixture(scope="module")
def exported(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    provider = stack.new_user()
    name, dataset, done = publish_and_export(provider, tmp_path_factory.mktemp("float"))
    image, _ = digit_items(3, 1, skip=45)[1]
    digit = provider.upload("digit.png", png(image))["id"]
    return Exported(
        provider=provider,
        name=name,
        dataset=dataset,
        export_task=done,
        int8_version=done["result"]["version"],
        digit=digit,
    )


def test_export_publishes_an_int8_version_with_a_report(exported: Exported) -> None:
    task = exported.export_task
    names = {o["name"] for o in task["outputs"]}
    assert {
        "model.onnx",
        "model.torchscript.pt",
        "model-int8.torchscript.pt",
        "weights.safetensors",
        "config.json",
        "quantization.json",
        "quantization.md",
        "export.json",
    } <= names

    owner = exported.provider.http.get("/users/me").json()["username"]
    assert task["result"] == {
        "resource": exported.name,
        "resource_id": task["result"]["resource_id"],
        "ref": f"{owner}/{exported.name}",
        "version": 2,
        "digest": task["result"]["digest"],
    }
    version = exported.provider.http.get(f"/resources/{exported.name}/versions/2").json()
    assert (version["parent"], version["parent_resource"]) == (1, exported.name)
    quantization = version["config"]["quantization"]
    assert quantization["method"] == "percentile"
    assert quantization["calibration"]["images"] == 30
    assert quantization["calibration"]["dataset_digest"] == task["dataset_digest"]

    report = json_output(task, "quantization.json")
    accuracy = report["accuracy"]
    assert report["evaluated_on"] == {"images": 30, "held_out": True}
    assert accuracy["float_accuracy"] > 0.6  # trained well above chance (1/3)
    assert abs(accuracy["drop_points"]) <= ACCURACY_MARGIN_POINTS
    assert report["size"]["int8_bytes"] < report["size"]["float_bytes"] / 2
    sqnr = [unit["sqnr_db"] for unit in report["units"]]
    assert len(sqnr) == 11 and all(np.isfinite(sqnr)) and sqnr == sorted(sqnr)  # worst first
    assert {sweep["costliest"]["unit"] for sweep in report["cross"].values()} <= {u["name"] for u in report["units"]}
    markdown = task_output(task, "quantization.md").text
    assert "| accuracy |" in markdown and report["units"][0]["name"] in markdown
    REPORT_COPY.parent.mkdir(exist_ok=True)
    REPORT_COPY.write_text(markdown)  # README shows one

    checks = json_output(task, "export.json")["checks"]
    assert checks["onnx"]["max_abs_difference"] <= checks["onnx"]["tolerance"]["atol"] + 1e-2
    assert checks["int8_rebuild"].startswith("bit-identical")


def test_the_onnx_output_runs_in_onnxruntime_like_torch(exported: Exported, tmp_path: Path) -> None:
    trained = trained_digits()
    path = tmp_path / "model.onnx"
    path.write_bytes(task_output(exported.export_task, "model.onnx").content)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"images": trained.val_images.numpy()})
    with torch.inference_mode():
        expected = trained.model.eval()(trained.val_images).numpy()
    assert np.allclose(logits, expected, atol=1e-4, rtol=1e-3)


def test_the_int8_version_predicts(exported: Exported) -> None:
    provider = exported.provider
    task = provider.submit(resource=exported.name, version=exported.int8_version, inputs=[exported.digit])
    done = provider.wait(task["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    top = json_output(done, "predictions.json")["predictions"][0]["top"]
    assert top[0]["label"] in CLASSES and abs(sum(row["probability"] for row in top) - 1.0) < 1e-3


def inspect(exported: Exported, version: int) -> dict[str, Any]:
    task = exported.provider.submit(
        resource=exported.name, version=version, mode="inspect", inputs=[exported.digit], params={"max_maps": 4}
    )
    done = exported.provider.wait(task["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    return done


def test_inspect_lines_up_float_and_int8_layer_by_layer(exported: Exported) -> None:
    float_task = inspect(exported, 1)
    int8_task = inspect(exported, exported.int8_version)
    float_layers = json_output(float_task, "inspect.json")["layers"]
    int8_doc = json_output(int8_task, "inspect.json")
    assert int8_doc["precision"] == "int8"
    assert [(r["name"], r["output_shape"]) for r in float_layers] == [
        (r["name"], r["output_shape"]) for r in int8_doc["layers"]
    ]
    assert len(float_layers) == 11
    # the INT8 task also carries the float records (the toggle) and the cross sweep
    assert json_output(int8_task, "float/inspect.json")["layers"] == float_layers
    names = {o["name"] for o in int8_task["outputs"]}
    assert all(r["png"] in names for r in int8_doc["layers"] if r["png"])
    cross = json_output(int8_task, "cross.json")["sweeps"]
    first, last = cross["float_then_int8"]["steps"], cross["int8_then_float"]["steps"]
    assert first[0]["relative_error"] == pytest.approx(last[-1]["relative_error"])  # both: all INT8
    assert first[-1]["relative_error"] == pytest.approx(0.0, abs=1e-12)  # all float
    graph = json_output(float_task, "graph.json")
    assert {"conv1", "fc"} <= {node["name"] for node in graph["nodes"]}
    assert "cross.json" not in {o["name"] for o in float_task["outputs"]}


def test_a_weight_edit_publishes_a_version_changed_at_that_layer_only(exported: Exported) -> None:
    provider = exported.provider
    edit = {"layer": "layer2.0.conv1", "op": {"kind": "scale", "factor": 0.0}}
    task = provider.submit(resource=exported.name, version=1, mode="edit", params={"edit": edit})
    done = provider.wait(task["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    summary = json_output(done, "edit.json")
    assert [row["tensor"] for row in summary["changed"]] == ["layer2.0.conv1.weight"]
    assert summary["changed"][0]["after"]["max"] == 0.0
    edited = done["result"]["version"]
    before = json_output(inspect(exported, 1), "inspect.json")["layers"]
    after = json_output(inspect(exported, edited), "inspect.json")["layers"]
    position = next(i for i, r in enumerate(before) if r["name"] == "layer2.0")
    assert [r["stats"] for r in before[:position]] == [r["stats"] for r in after[:position]]
    assert before[position]["stats"] != after[position]["stats"]


def test_bad_export_inspect_and_edit_requests_get_clear_4xx(
    exported: Exported, stack: RunningStack, published: Published
) -> None:
    provider = exported.provider
    name, dataset = exported.name, exported.dataset["id"]
    empty = provider.http.post("/datasets", json={"name": "Empty"}).json()
    code, message = refused(provider, name, "export", dataset=empty["id"])
    assert code in (400, 422) and "no labelled images" in message
    code, message = refused(published.provider, published.name, "export", dataset=dataset)
    assert code in (400, 403, 404, 422)
    own = published.provider.http.post("/datasets", json={"name": "Mine"}).json()
    code, message = refused(published.provider, published.name, "evaluate", dataset=own["id"])  # SAM
    assert code in (400, 422) and "cannot run 'evaluate'" in message
    code, message = refused(provider, name, "edit", params=edit_params("layer2.0.conv9", kind="scale", factor=2.0))
    assert code in (400, 422) and "layer2.0.conv9" in message and "layer2.0.conv1" in message
    code, message = refused(provider, name, "edit", params=edit_params("fc", kind="set", index=[3, 0], value=1.0))
    assert code in (400, 422) and "out of range" in message
    code, message = refused(provider, name, "inspect", inputs=[exported.digit] * 2)
    assert code in (400, 422) and "one upload id" in message
    code, message = refused(provider, name, "export", dataset=dataset, params={"keep_float": ["layer7.0"]})
    assert code in (400, 422) and "layer7.0" in message and "layer4.1" in message
    code, message = refused(provider, name, "train", version=exported.int8_version, dataset=dataset)
    assert code in (400, 422) and "INT8" in message
    # a user who may only use the model cannot edit it in place
    reader = stack.new_user()
    provider.http.post(f"/resources/{name}/grants", json={"username": reader.username, "permission": "use"})
    code, message = refused(reader, name, "edit", params=edit_params("fc", kind="scale", factor=2.0))
    assert code == 403 and "publish_as" in message


def refused(client: CommonsClient, resource: str, mode: str, *, version: int = 1, **request: Any) -> tuple[int, str]:
    """The status code and message with which a task `client` submits is refused."""
    return status_of(lambda: client.submit(resource=resource, version=version, mode=mode, **request))


def edit_params(layer: str, **op: Any) -> dict[str, Any]:
    """An edit task's params: the operation `op` on `layer`."""
    return {"edit": {"layer": layer, "op": op}}


def test_a_use_grantee_exports_without_publishing_and_is_told_what_publishing_needs(
    exported: Exported, stack: RunningStack
) -> None:
    """Seen: an export to ONNX and TorchScript (which publishes nothing) by a `use` grantee was refused with
    "the trained weights cannot become its next version". Only an INT8 export publishes, so only it needs
    `modify` or `params.publish_as`."""
    grantee = stack.new_user()
    name = str(grantee.http.get("/users/me").json()["username"])
    exported.provider.grant(exported.name, name, "use")
    granted = exported.provider.http.post(
        f"/datasets/{exported.dataset['id']}/grants", json={"username": name, "permission": "use"}
    )
    assert granted.status_code == 201, granted.text
    body = {"resource": exported.name, "version": 1, "mode": "export", "dataset": exported.dataset["id"]}
    plain = grantee.http.post("/tasks", json={**body, "params": {"formats": ["onnx", "torchscript"]}})
    assert plain.status_code == 202, plain.text
    int8 = grantee.http.post("/tasks", json={**body, "params": {"formats": ["int8"]}})
    assert int8.status_code == 403 and "publish_as" in int8.json()["detail"], int8.text
    assert grantee.wait(plain.json()["id"], timeout=600)["status"] == "succeeded"
