"""Fixtures of the worker-host tests: a commons on a server host and two worker hosts (network namespaces,
tests/hosts/netns.py), and a user with a `hosts.sleeper` resource on it. They need root (skipped with the reason
elsewhere), iproute2 and socat (installed from Debian's packages when missing)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from launcher.client import CommonsClient
from tests.hosts.cluster import Cluster, cluster
from tests.hosts.netns import missing_tools

# A worker silent for STALE_SECONDS fails its task (the reaper checks every second), so a cut host's tasks end
# within about STALE + 2 heartbeats + 1 s: well inside the 60 s the failover must take.
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 10.0


@pytest.fixture(scope="module")
def hosts_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    why = missing_tools()
    if why is not None:
        pytest.skip(f"worker hosts are network namespaces: {why}")
    settings = {
        "heartbeat_seconds": HEARTBEAT_SECONDS,
        "stale_after_seconds": STALE_SECONDS,
        "reaper_interval_seconds": 1.0,
    }
    with cluster(tmp_path_factory.mktemp("hosts"), hosts=2, **settings) as running:
        yield running


@dataclass
class Sleeper:
    client: CommonsClient
    resource: str
    upload_id: str

    def batch(self, seconds: float) -> str:
        """An edit task (batch lane): works `seconds`, then publishes a version; its id."""
        task = self.client.submit(resource=self.resource, version=1, mode="edit", params={"seconds": seconds})
        return str(task["id"])

    def warm(self, seconds: float) -> str:
        """An infer task on the warm lane that works `seconds`; its id."""
        task = self.client.submit(
            resource=self.resource, version=1, inputs=[self.upload_id], params={"seconds": seconds}, lane="warm"
        )
        return str(task["id"])


@pytest.fixture(scope="module")
def sleeper(hosts_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Sleeper:
    client = CommonsClient(hosts_cluster.settings.api_url)
    name = f"user-{uuid.uuid4().hex[:8]}"
    client.sign_up(name, "correct horse battery")
    client.sign_in(name, "correct horse battery")
    client.create_resource(name="sleeper", kind="hosts.sleeper", title="Sleeper", visibility="private")
    notes: Path = tmp_path_factory.mktemp("sleeper") / "notes.txt"
    notes.write_text("a sleeper has no weights")
    client.upload_version("sleeper", files=[notes], config={})
    photo = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo, format="PNG")
    upload = client.upload("black.png", photo.getvalue())
    return Sleeper(client=client, resource="sleeper", upload_id=str(upload["id"]))
