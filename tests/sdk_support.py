"""What the SDK and CLI tests share: an account with an API token, a tiny SAM (random weights) published over the
SDK, a photo, and a clean place for the credentials file."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from launcher.sdk import Commons
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import RunningStack

PASSWORD = "correct horse battery"
# Random weights score every mask low: these keep the masks (4 points × 3 outputs) so the outputs hold segments.
SAM_PARAMS: dict[str, Any] = {
    "mode": "auto",
    "outputs": ["hard", "json"],
    "auto": {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0},
}
# The stack is started on SQLite alone: the client speaks HTTP, the database behind the API changes nothing here.
ON_SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


@dataclass
class Account:
    username: str
    token: str
    url: str

    def commons(self) -> Commons:
        return Commons(self.url, self.token)


def new_account(stack: RunningStack) -> Account:
    """A user signed up over REST, with a named API token made by `Commons.sign_in`."""
    username = f"cli-{uuid.uuid4().hex[:10]}"
    stack.client().sign_up(username, PASSWORD)
    commons, token = Commons.sign_in(stack.settings.api_url, username, PASSWORD, token_name="tests")
    commons.close()
    return Account(username=username, token=token, url=stack.settings.api_url)


def write_tiny_sam(folder: Path) -> Path:
    path = folder / str(TINY_CONFIG["checkpoint"])
    save_random_weights(parse_sam_config(TINY_CONFIG), path, seed=0)
    return path


def publish_tiny_sam(account: Account, weights: Path) -> str:
    """A private tiny SAM of the account's, version 1; its `owner/name`."""
    name = f"sam-{uuid.uuid4().hex[:8]}"
    with account.commons() as commons:
        made = commons.create_resource(name, kind="segmenter.sam", title="Tiny SAM for scripts")
        commons.publish_version(made["ref"], [weights], config=TINY_CONFIG)
    return str(made["ref"])


def write_photo(path: Path, *, size: tuple[int, int] = (96, 64), seed: int = 0) -> Path:
    """A small RGB photo of smooth gradients and a square (something for SAM to segment), as PNG."""
    rng = np.random.default_rng(seed)
    height, width = size[1], size[0]
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    pixels[height // 4 : height // 2, width // 4 : width // 2] = rng.integers(0, 255, 3, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty XDG_CONFIG_HOME, no COMMONS_URL or COMMONS_TOKEN: each test saves its own credentials."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("COMMONS_URL", raising=False)
    monkeypatch.delenv("COMMONS_TOKEN", raising=False)
    return home
