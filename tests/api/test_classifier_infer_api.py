"""`classifier.resnet` over REST: architecture-only versions and top-k prediction tasks."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from skimage import data as skdata

from launcher.client import ApiError
from tests.api.conftest import png_bytes
from tests.conftest import RunningStack

CONFIG: dict[str, Any] = {"arch": "resnet18", "classes": ["brick", "grass", "gravel"], "input_size": 32, "init_seed": 7}


# The prediction does not depend on the registry's backend; one stack suffices.
@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_architecture_only_version_predicts_top_k(stack: RunningStack) -> None:
    provider = stack.new_user()
    name = f"textures-{uuid.uuid4().hex[:8]}"
    provider.create_resource(name=name, kind="classifier.resnet", title="Texture classifier", visibility="private")
    response = provider.http.post(f"/resources/{name}/versions", data={"config": json.dumps(CONFIG)})
    assert response.status_code == 201, response.text
    version = response.json()
    assert version["files"] == []
    assert version["config"]["classes"] == CONFIG["classes"]

    missing = provider.http.post(
        f"/resources/{name}/versions", data={"config": json.dumps({**CONFIG, "checkpoint": "w.safetensors"})}
    )
    assert missing.status_code == 422
    assert "w.safetensors" in missing.json()["detail"]

    photos = {"brick.png": skdata.brick()[:64, :64], "grass.png": skdata.grass()[:64, :64]}
    uploads = [
        provider.upload(photo_name, png_bytes(np.stack([gray] * 3, axis=-1))) for photo_name, gray in photos.items()
    ]
    with pytest.raises(ApiError) as refused:
        provider.submit(resource=name, version=1, inputs=[u["id"] for u in uploads], params={"mode": "auto"})
    assert refused.value.status_code == 422

    task = provider.submit(resource=name, version=1, inputs=[u["id"] for u in uploads], params={"top_k": 2})
    final = provider.wait(task["id"])
    assert final["status"] == "succeeded", final["error"]
    assert [o["name"] for o in final["outputs"]] == ["predictions.json"]
    report = httpx.get(final["outputs"][0]["url"], timeout=30).json()
    assert [p["image"]["name"] for p in report["predictions"]] == list(photos)
    for prediction in report["predictions"]:
        top = prediction["top"]
        assert len(top) == 2
        assert {entry["label"] for entry in top} <= set(CONFIG["classes"])
        assert top[0]["probability"] >= top[1]["probability"]
        assert sum(entry["probability"] for entry in top) <= 1 + 1e-6
    again = provider.wait(
        provider.submit(resource=name, version=1, inputs=[u["id"] for u in uploads], params={"top_k": 2})["id"]
    )
    second = httpx.get(again["outputs"][0]["url"], timeout=30).json()
    assert second["predictions"] == report["predictions"], "the seeded architecture gives the same answer"
