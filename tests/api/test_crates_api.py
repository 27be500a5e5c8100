"""RO-Crates: a SAM task and a classifier training as Workflow Run Crates, a version as an RO-Crate; every crate
validated by roc-validator (the community's validator, offline, REQUIRED level) and read back with `rocrate`.

Data no one here wrote: scikit-image's coffee photo, scikit-learn's handwritten digits 0 and 1.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from rocrate.rocrate import ROCrate

from launcher.client import CommonsClient
from tests.api.conftest import AUTO_PARAMS, Published
from tests.api.test_task_history import train_tiny_cnn
from tests.conftest import RunningStack
from tests.crates.validator import validate

WORKFLOW_RUN = "workflow-run-crate"


def fetch_crate(client: CommonsClient, path: str, folder: Path) -> tuple[Path, dict[str, bytes]]:
    """The crate at `path` saved under `folder`, and its entries by name."""
    response = client.http.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    target = folder / f"crate-{len(list(folder.iterdir()))}.zip"
    target.write_bytes(response.content)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return target, {name: archive.read(name) for name in archive.namelist()}


def assert_valid(crate: Path, profile: str) -> None:
    verdict = validate(crate, profile)
    assert verdict["passed"], verdict["issues"]


def graph(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {entity["@id"]: entity for entity in json.loads(files["ro-crate-metadata.json"])["@graph"]}


def ids(value: Any) -> list[str]:
    return [v["@id"] for v in (value if isinstance(value, list) else [value])]


def the_run(entities: dict[str, dict[str, Any]], task_id: str) -> dict[str, Any]:
    return entities[f"#run-{task_id}"]


def assert_results_match(files: dict[str, bytes], entities: dict[str, dict[str, Any]], run: dict[str, Any]) -> None:
    """Every included result's bytes have the sha256 and size the crate states."""
    for ident in ids(run["result"]):
        entity = entities[ident]
        if ident in files:
            assert hashlib.sha256(files[ident]).hexdigest() == entity["sha256"], ident
            assert len(files[ident]) == int(entity["contentSize"]), ident


def without_main_entity(crate: Path, target: Path) -> Path:
    """A copy of the crate whose root names no main entity (a Workflow RO-Crate requirement)."""
    with zipfile.ZipFile(crate) as source, zipfile.ZipFile(target, "w") as copy:
        for name in source.namelist():
            data = source.read(name)
            if name == "ro-crate-metadata.json":
                metadata = json.loads(data)
                next(e for e in metadata["@graph"] if e["@id"] == "./").pop("mainEntity")
                data = json.dumps(metadata).encode()
            copy.writestr(name, data)
    return target


def test_a_segmentation_crate_validates_and_reads_back(
    stack: RunningStack, published: Published, coffee_png: bytes, tmp_path: Path
) -> None:
    published.provider.grant(published.name, "*", "use")
    scientist = stack.new_user()
    upload = scientist.upload("coffee.png", coffee_png)
    task = scientist.wait(
        scientist.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)["id"]
    )
    assert task["status"] == "succeeded", task["error"]

    path, files = fetch_crate(scientist, f"/tasks/{task['id']}/crate", tmp_path)
    assert_valid(path, WORKFLOW_RUN)
    entities = graph(files)
    run = the_run(entities, task["id"])
    assert run["@type"] == "CreateAction" and run["actionStatus"]["@id"].endswith("CompletedActionStatus")
    assert run["startTime"] <= run["endTime"] and entities[run["agent"]["@id"]]["name"] == scientist.username
    owner = published.provider.username
    version_url = f"{stack.settings.api_url}/api/v1/resources/{owner}/{published.name}/versions/1"
    assert set(ids(run["instrument"])) == {"workflow.json", version_url}
    assert entities[version_url]["identifier"] == published.version["digest"]
    assert {o["name"] for o in task["outputs"]} == {entities[i]["name"] for i in ids(run["result"])}
    assert all(i in files for i in ids(run["result"])), "the submitter gets every output"
    assert_results_match(files, entities, run)
    [photo] = [entities[i] for i in ids(run["object"]) if entities[i].get("@type") == "File"]
    assert files[photo["@id"]] == coffee_png and photo["sha256"] == hashlib.sha256(coffee_png).hexdigest()
    values = {
        entities[i]["name"]: entities[i]["value"] for i in ids(run["object"]) if entities[i]["@type"] == "PropertyValue"
    }
    assert values["mode"] == "auto" and "seed" in values
    environment = {entities[i]["name"]: entities[i]["value"] for i in ids(run["environment"])}
    assert environment["python"].startswith("3.") and environment["device"]
    assert json.loads(files["manifest.json"])["task"]["id"] == task["id"]

    crate = ROCrate(path)  # read back with the rocrate library
    assert crate.mainEntity.id == "workflow.json" and "ComputationalWorkflow" in crate.mainEntity.type
    [action] = [e for e in crate.contextual_entities if e.type == "CreateAction"]
    assert action["instrument"][0].id == "workflow.json"
    assert {e.id for e in crate.data_entities} >= set(ids(run["result"]))

    broken = without_main_entity(path, tmp_path / "broken.zip")  # the validator is not vacuous
    assert not validate(broken, WORKFLOW_RUN)["passed"]

    for outsider in (stack.new_user(), published.provider):
        answer = outsider.http.get(f"/tasks/{task['id']}/crate")
        assert answer.status_code == 404 and "no task" in answer.text, answer.text
    assert stack.client().http.get(f"/tasks/{task['id']}/crate").status_code == 401

    card = published.provider.http.put(
        f"/resources/{owner}/{published.name}/versions/1/card", json={"markdown": "# Tiny SAM\n\nRandom weights."}
    )
    assert card.status_code == 200, card.text
    path, files = fetch_crate(scientist, f"/resources/{owner}/{published.name}/versions/1/crate", tmp_path)
    assert_valid(path, "ro-crate-1.1")
    entities = graph(files)
    assert entities["./"]["identifier"] == published.version["digest"]
    assert files["card.md"].decode() == "# Tiny SAM\n\nRandom weights."
    [weights] = published.version["files"]
    assert hashlib.sha256(files[f"files/{weights['name']}"]).hexdigest() == weights["sha256"]
    assert json.loads(files["config.json"]) == published.version["config"]


def test_a_training_crate_for_its_submitter_and_for_a_reproducer(stack: RunningStack, tmp_path: Path) -> None:
    learner, researcher = stack.new_user(), stack.new_user()
    source, _dataset, task = train_tiny_cnn(learner)
    path, files = fetch_crate(learner, f"/tasks/{task['id']}/crate", tmp_path)
    assert_valid(path, WORKFLOW_RUN)
    entities = graph(files)
    run = the_run(entities, task["id"])
    assert "outputs/model.safetensors" in ids(run["result"]) and "outputs/model.safetensors" in files
    assert_results_match(files, entities, run)
    snapshot = entities["inputs/dataset.json"]
    assert snapshot["identifier"] == task["dataset_digest"] and "inputs/dataset.json" in ids(run["object"])
    assert {item["label"] for item in json.loads(files["inputs/dataset.json"])["items"]} == {"zero", "one"}
    values = {
        entities[i]["name"]: entities[i]["value"] for i in ids(run["object"]) if entities[i]["@type"] == "PropertyValue"
    }
    assert values["epochs"] == 1 and values["lr"] == 0.01

    # A reproducer reads the public view: the weights of a run-only source are listed, not included.
    assert learner.http.patch(f"/resources/{source}", json={"download": False}).status_code == 200
    learner.grant(task["result"]["resource"], researcher.username, "use")
    learner.grant(source, researcher.username, "use")
    path, files = fetch_crate(researcher, f"/tasks/{task['id']}/crate", tmp_path)
    assert_valid(path, WORKFLOW_RUN)
    entities = graph(files)
    run = the_run(entities, task["id"])
    withheld = entities["#withheld-model.safetensors"]
    assert "run-only" in withheld["description"] and withheld["sha256"] and "outputs/model.safetensors" not in files
    assert "outputs/metrics.json" in files and "inputs/dataset.json" not in files, "the dataset is not theirs"
    assert entities["#dataset-snapshot"]["identifier"] == task["dataset_digest"]

    # The trained version: lineage as isBasedOn; its files only to whoever may download them.
    trained = task["result"]["ref"]
    path, files = fetch_crate(learner, f"/resources/{trained}/versions/1/crate", tmp_path)
    assert_valid(path, "ro-crate-1.1")
    entities = graph(files)
    parent = f"{stack.settings.api_url}/api/v1/resources/{learner.username}/{source}/versions/1"
    assert parent in ids(entities["./"]["isBasedOn"])
    based = {entities[i]["name"] for i in ids(entities["./"]["isBasedOn"])}
    assert f"{learner.username}/{source}" in based and f"{learner.username}/Two digits" in based
    assert "files/model.safetensors" in files
    path, files = fetch_crate(researcher, f"/resources/{trained}/versions/1/crate", tmp_path)
    assert_valid(path, "ro-crate-1.1")
    entities = graph(files)
    [weights] = [e for e in entities.values() if e.get("name") == "model.safetensors"]
    assert weights["@id"].startswith("http") and "run-only" in weights["description"] and weights["sha256"]
    assert not any(name.startswith("files/") for name in files)
    assert stack.new_user().http.get(f"/resources/{trained}/versions/1/crate").status_code == 404
