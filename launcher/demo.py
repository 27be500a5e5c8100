"""The demo `make run` shows: a SAM resource with UNTRAINED random weights, one task on a real photo, and two
untrained starter classifiers (a ResNet-18 and a small CNN from blocks) that anyone may train."""

from __future__ import annotations

import io
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

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


@dataclass(frozen=True)
class Starter:
    """A starter classifier: an untrained, architecture-only public resource (weights from its `init_seed`)."""

    name: str
    kind: str
    title: str
    description: str
    config: dict[str, Any]


_UNTRAINED = (
    "Untrained, architecture only: no weights file, its weights come from init_seed, so it predicts nothing useful "
    "until trained. Start here: pick it on the Train page with a labelled dataset. "
)
STARTER_BLOCKS: Final[list[dict[str, Any]]] = [
    {"type": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1},
    {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "in_channels": 16, "out_channels": 32, "kernel_size": 3, "padding": 1},
    {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Flatten"},
    {"type": "Linear", "in_features": 32 * 8 * 8, "out_features": 10},
]
STARTERS: Final[tuple[Starter, ...]] = (
    Starter(
        name="resnet18-starter",
        kind="classifier.resnet",
        title="ResNet-18 starter (untrained)",
        description=_UNTRAINED + "A ResNet-18 for 32×32 px photos (quick to train on a CPU); training replaces its "
        "head with one output per class of your dataset.",
        config={"arch": "resnet18", "classes": ["class 0", "class 1"], "input_size": 32, "init_seed": 0},
    ),
    Starter(
        name="small-cnn-starter",
        kind="classifier.blocks",
        title="Small CNN starter (untrained)",
        description=_UNTRAINED + "A small CNN from blocks (two convolutions, 32×32 px photos) with 10 outputs: train "
        "it on a dataset of 10 classes (digits 0-9, for example), or open it on the Build page to change the last "
        "Linear's out_features to your number of classes.",
        config={"input_channels": 3, "input_size": 32, "blocks": STARTER_BLOCKS, "init_seed": 0},
    ),
)


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


def ensure_starter_models(api_url: str, *, data_dir: Path) -> None:
    """Register the starter classifiers (once): public, architecture-only versions anyone may use and train."""
    provider = CommonsClient(api_url)
    try:
        _account(provider, DEMO_PROVIDER, data_dir / ".demo-provider-password")
        for starter in STARTERS:
            _ensure_public_version(provider, starter)
    finally:
        provider.close()


def _ensure_public_version(provider: CommonsClient, starter: Starter) -> None:
    try:
        provider.create_resource(
            name=starter.name,
            kind=starter.kind,
            title=starter.title,
            description=starter.description,
            license="Apache-2.0",
            visibility="public",
        )
    except ApiError as error:
        if error.status_code != 409:
            raise
    if provider.http.get(f"/resources/{starter.name}/versions/latest").status_code == 404:
        provider.upload_version(starter.name, files=[], config=starter.config)
        provider.grant(starter.name, "*", "use")


def ensure_demo_resources(api_url: str, *, data_dir: Path) -> None:
    """Everything the demo registers (once): the SAM resource and the starter classifiers."""
    ensure_demo_resource(api_url, data_dir=data_dir)
    ensure_starter_models(api_url, data_dir=data_dir)


def run_demo(api_url: str, *, data_dir: Path) -> dict[str, Any]:
    """Register the demo resources (once) and run one segmentation task; returns the finished task."""
    ensure_demo_resources(api_url, data_dir=data_dir)
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
