"""The demo `make run` shows: a SAM resource with UNTRAINED random weights, one task on a real photo."""

from __future__ import annotations

import io
import secrets
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from launcher.client import ApiError, CommonsClient

DEMO_RESOURCE = "sam-demo-untrained"
DEMO_PROVIDER = "demo-provider"
DEMO_USER = "demo-scientist"
DEMO_PARAMS: dict[str, Any] = {
    "mode": "auto",
    "outputs": ["hard", "blended", "json"],
    # Random weights give low quality scores; these thresholds keep some masks so the outputs show something.
    "auto": {"points_per_side": 8, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0},
}


def photo_png() -> bytes:
    """skimage's coffee photo (400×600 RGB) as PNG bytes."""
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(data.coffee())).save(buffer, format="PNG")
    return buffer.getvalue()


def _account(client: CommonsClient, username: str, password_file: Path) -> None:
    if password_file.exists():
        password = password_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(16)
        client.sign_up(username, password)
        password_file.write_text(password)
        password_file.chmod(0o600)
    client.sign_in(username, password)


def ensure_demo_resource(api_url: str, *, data_dir: Path) -> None:
    from resources.sam.config import parse_sam_config
    from resources.sam.model import TINY_CONFIG, save_random_weights

    provider = CommonsClient(api_url)
    try:
        _account(provider, DEMO_PROVIDER, data_dir / ".demo-provider-password")
        try:
            provider.create_resource(
                name=DEMO_RESOURCE,
                kind="segmenter.sam",
                title="Segment Anything — tiny config, UNTRAINED",
                description="Random weights in a small custom SAM config, for trying the platform where no "
                "pretrained checkpoint can be downloaded. Its masks are not meaningful.",
                citation="Kirillov et al., Segment Anything, ICCV 2023",
                license="Apache-2.0",
                visibility="public",
            )
        except ApiError as error:
            if error.status_code != 409:
                raise
        if provider.http.get(f"/resources/{DEMO_RESOURCE}/versions/latest").status_code == 404:
            config = parse_sam_config(TINY_CONFIG)
            with tempfile.TemporaryDirectory() as folder:
                weights = Path(folder) / config.checkpoint
                save_random_weights(config, weights, seed=0)
                provider.upload_version(DEMO_RESOURCE, files=[weights], config=TINY_CONFIG)
            provider.grant(DEMO_RESOURCE, "*", "use")
    finally:
        provider.close()


def run_demo(api_url: str, *, data_dir: Path) -> dict[str, Any]:
    """Register the demo resource (once) and run one segmentation task; returns the finished task."""
    ensure_demo_resource(api_url, data_dir=data_dir)
    client = CommonsClient(api_url)
    try:
        _account(client, DEMO_USER, data_dir / ".demo-user-password")
        upload = client.upload("coffee.png", photo_png())
        task = client.submit(resource=DEMO_RESOURCE, version="latest", inputs=[upload["id"]], params=DEMO_PARAMS)
        for event in client.events(task["id"]):
            steps = ", ".join(f"{s['name']}:{s['status']}" for s in event["steps"])
            print(f"  task {event['id'][:8]} {event['status']:<10} {steps}")
        return client.task(task["id"])
    finally:
        client.close()
