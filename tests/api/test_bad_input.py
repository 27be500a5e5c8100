"""Bad input gets a clear 4xx (or a failed task with the reason) and loses nothing."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import numpy as np
import pytest
import torch

from commons.store import ObjectStore, keys
from resources.sam.model import TINY_CONFIG
from tests.api.conftest import AUTO_PARAMS, Published, png_bytes, publish
from tests.conftest import RunningStack


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height pixels but carries almost no data (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def detail(response) -> str:
    return str(response.json()["detail"])


def test_authentication_errors(stack: RunningStack) -> None:
    client = stack.new_user()
    assert client.http.post("/auth/token", data={"username": client.username, "password": "nope"}).status_code == 401
    anonymous = stack.client()
    assert anonymous.http.get("/users/me").status_code == 401
    anonymous.http.headers["Authorization"] = "Bearer not-a-token"
    assert anonymous.http.get("/users/me").status_code == 401
    me = client.http.get("/users/me").json()
    expired = jwt.encode(
        {"sub": me["id"], "exp": datetime.now(UTC) - timedelta(minutes=5)}, stack.settings.secret_key, algorithm="HS256"
    )
    anonymous.http.headers["Authorization"] = f"Bearer {expired}"
    response = anonymous.http.get("/users/me")
    assert response.status_code == 401 and "expired" in detail(response)
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"this is not a photo at all", "is not a png, jpeg"),
        ("empty.png", b"", "empty"),
        ("cut.png", png_bytes(np.zeros((64, 64, 3), np.uint8) + 7)[:-40], "truncated"),
        ("bomb.png", png_claiming(20000, 20000), "pixels"),
    ],
)
def test_bad_uploads_are_refused(stack: RunningStack, name: str, content: bytes, message: str) -> None:
    client = stack.new_user()
    response = client.http.post("/uploads", files={"file": (name, content, "image/png")})
    assert response.status_code == 422, response.text
    assert message in detail(response).lower()


def test_truncated_jpeg_is_refused(stack: RunningStack) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(buffer, "JPEG")
    client = stack.new_user()
    response = client.http.post("/uploads", files={"file": ("cut.jpg", buffer.getvalue()[:-300], "image/jpeg")})
    assert response.status_code == 422 and "truncated" in detail(response).lower()


def test_upload_over_the_size_limit_is_413(stack: RunningStack) -> None:
    client = stack.new_user()
    too_big = b"\0" * (stack.settings.max_upload_bytes + 1)
    response = client.http.post("/uploads", files={"file": ("big.png", too_big, "image/png")})
    assert response.status_code == 413 and "limit" in detail(response)


def test_unknown_resource_and_version(stack: RunningStack, published: Published, coffee_png: bytes) -> None:
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    body = {"resource": "no-such-model", "version": 1, "inputs": [upload["id"]], "params": AUTO_PARAMS}
    assert client.http.post("/tasks", json=body).status_code == 404
    response = client.http.post("/tasks", json={**body, "resource": published.name, "version": 99})
    assert response.status_code == 404 and "no version 99" in detail(response)
    response = client.http.post("/tasks", json={**body, "resource": published.name, "inputs": ["nope"]})
    assert response.status_code == 404 and "upload" in detail(response)
    assert client.http.get(f"/resources/{published.name}/versions/99").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mode": "auto", "auto": {"points_per_side": -3}}, "points_per_side"),
        ({"mode": "auto", "auto": {"points_per_side": 100000}}, "points_per_side"),
        ({"mode": "auto", "auto": {"pred_iou_thresh": 7}}, "pred_iou_thresh"),
        ({"mode": "auto", "auto": {"no_such_knob": 1}}, "no_such_knob"),
        ({"mode": "prompt", "prompt": {"points": [[900, 100, 1]]}}, "outside"),
        ({"mode": "prompt", "prompt": {"boxes": [[10, 10, 700, 300]]}}, "outside"),
        ({"mode": "prompt"}, "prompt"),
        ({"outputs": ["hard", "sparkles"]}, "outputs"),
    ],
)
def test_bad_parameters_are_422(
    stack: RunningStack, published: Published, coffee_png: bytes, params: dict, field: str
) -> None:
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    response = client.http.post(
        "/tasks", json={"resource": published.name, "version": 1, "inputs": [upload["id"]], "params": params}
    )
    assert response.status_code == 422, response.text
    assert field in json.dumps(response.json()).lower()


def test_bad_versions_are_refused(
    stack: RunningStack, published: Published, tiny_weights: Path, tmp_path: Path
) -> None:
    client, name = published.provider, published.name

    def upload_version(files, config, **form):
        data = {"config": json.dumps(config), **form}
        parts = [("files", (path.name, path.read_bytes())) for path in files]
        return client.http.post(f"/resources/{name}/versions", data=data, files=parts)

    response = upload_version([tiny_weights], TINY_CONFIG, sha256=json.dumps({tiny_weights.name: "ab" * 32}))
    assert response.status_code == 422 and "sha256" in detail(response)

    response = upload_version([tiny_weights], {**TINY_CONFIG, "arch": "vit_x"})
    assert response.status_code == 422 and "config.arch" in detail(response)
    response = upload_version([tiny_weights], {**TINY_CONFIG, "encoder_depth": 0})
    assert response.status_code == 422 and "encoder_depth" in detail(response)
    response = upload_version([tiny_weights], {**TINY_CONFIG, "checkpoint": "other.safetensors"})
    assert response.status_code == 422 and "other.safetensors" in detail(response)
    response = upload_version([tiny_weights], {**TINY_CONFIG, "encoder_embed_dim": 128})
    assert response.status_code == 422, "weights that do not fit the config are refused at upload"

    unsafe = tmp_path / "unsafe.pth"
    with unsafe.open("wb") as handle:
        pickle.dump({"payload": datetime.now()}, handle)
    response = upload_version([unsafe], {**TINY_CONFIG, "checkpoint": "unsafe.pth"})
    assert response.status_code == 422 and "weights_only" in detail(response)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"definitely not safetensors")
    response = upload_version([garbage], {**TINY_CONFIG, "checkpoint": "garbage.safetensors"})
    assert response.status_code == 422

    response = client.http.post(
        f"/resources/{name}/versions", data={"config": "{not json"}, files=[("files", ("w.safetensors", b"x"))]
    )
    assert response.status_code == 422 and "config is not valid JSON" in detail(response)

    safe = tmp_path / "plain.pth"
    from safetensors.torch import load_file

    torch.save(load_file(str(tiny_weights)), safe)
    response = upload_version([safe], {**TINY_CONFIG, "checkpoint": "plain.pth"})
    assert response.status_code == 201, response.text
    versions = client.http.get(f"/resources/{name}/versions").json()
    assert [v["version"] for v in versions] == [1, 2], "refused uploads take no version number"


def test_corrupt_stored_weights_fail_the_task_with_the_reason(
    stack: RunningStack, tiny_weights: Path, coffee_png: bytes, store: ObjectStore
) -> None:
    published = publish(stack, tiny_weights)
    resource_id = published.provider.http.get(f"/resources/{published.name}").json()["id"]
    stored = keys.version_blob(resource_id, published.version["files"][0]["sha256"], tiny_weights.name)
    store.put_bytes(key=stored, data=b"bit rot")
    upload = published.provider.upload("coffee.png", coffee_png)
    task = published.provider.submit(resource=published.name, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)
    final = published.provider.wait(task["id"])
    assert final["status"] == "failed"
    assert "corrupt" in final["error"] and "sha256" in final["error"]
    assert [s["status"] for s in final["steps"]] == ["failed", "skipped", "skipped"]
    assert final["outputs"] == [] and final["manifest_url"] is None
    assert not store.exists(keys.task_manifest(task["id"]))


def test_validation_errors_have_the_one_error_shape(stack: RunningStack) -> None:
    """Seen: a request that fails validation answered with pydantic's list, not the {detail, field} every other
    error has; the words a person needs were inside it."""
    client = stack.new_user()
    response = client.http.post("/resources", json={"name": "no-title", "kind": "classifier.blocks"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "title: Field required" and body["field"] == "title"
    assert body["errors"][0]["loc"] == ["body", "title"]  # pydantic's list, for programs
    audit = client.http.get("/audit", params={"since": "yesterday"})
    assert audit.status_code == 422 and audit.json()["field"] == "since", audit.text
