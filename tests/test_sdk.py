"""The Python SDK (`launcher/sdk/`) against the real stack: run a SAM segmentation into a folder, follow it,
reproduce it; the API's errors in its own words; credentials kept 0600; downloads checked against their sha256."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from launcher.sdk import ApiError, BadArgument, Commons, DownloadError, NotSignedIn, TaskFailed, credentials
from launcher.sdk.arguments import params_from_pairs, resource_ref
from launcher.sdk.outputs import download_outputs
from tests.conftest import RunningStack
from tests.sdk_support import (
    ON_SQLITE,
    SAM_PARAMS,
    Account,
    config_home,  # noqa: F401 - a fixture
    new_account,
    publish_tiny_sam,
    write_photo,
    write_tiny_sam,
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def account(stack: RunningStack) -> Account:
    return new_account(stack)


@pytest.fixture(scope="module")
def sam(account: Account, tmp_path_factory: pytest.TempPathFactory) -> str:
    return publish_tiny_sam(account, write_tiny_sam(tmp_path_factory.mktemp("sam")))


@ON_SQLITE
def test_run_downloads_outputs_and_manifest_then_reproduces_bit_for_bit(
    stack: RunningStack, account: Account, sam: str, tmp_path: Path
) -> None:
    photo = write_photo(tmp_path / "square.png")
    seen: list[dict[str, Any]] = []
    with account.commons() as commons:
        outputs = commons.run(
            f"{sam}:1", inputs=[photo], params=SAM_PARAMS, out=tmp_path / "out", on_update=seen.append
        )
        # Followed on the event stream: every change, in order, ending succeeded with progress 1.
        assert seen[-1]["status"] == "succeeded"
        assert [update["progress"] for update in seen] == sorted(update["progress"] for update in seen)
        assert outputs.task["status"] == "succeeded" and outputs.folder == tmp_path / "out"
        manifest = outputs.manifest
        assert manifest is not None and manifest["resource"]["version"] == 1
        assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
        # Every output the manifest lists is in the folder with its sha256, under its own name.
        listed = {o["name"]: o["sha256"] for o in manifest["outputs"]}
        assert {"square/hard.png", "square/segments.json", "square/summary.json"} <= set(listed)
        for name, digest in listed.items():
            assert sha256(outputs[name]) == digest
        assert len(json.loads(outputs["square/segments.json"].read_text())["segments"]) > 0

        again = commons.reproduce(outputs.task_id, out=tmp_path / "again")
    report = again.report
    assert report is not None and report["pass"] is True and report["digests_match"] is True
    assert again.task["reproduces"] == outputs.task_id
    assert sha256(again["square/hard.png"]) == sha256(outputs["square/hard.png"])


@ON_SQLITE
def test_api_errors_come_in_the_apis_words(stack: RunningStack, account: Account, sam: str, tmp_path: Path) -> None:
    photo = write_photo(tmp_path / "p.png")
    with Commons(stack.settings.api_url, "mc_not-a-token") as stranger, pytest.raises(ApiError) as refused:
        stranger.whoami()
    assert refused.value.status_code == 401 and "token" in refused.value.message.lower()
    with account.commons() as commons:
        with pytest.raises(ApiError) as unknown:
            commons.run("nobody-here/no-such-model", inputs=[photo], params=SAM_PARAMS, out=tmp_path / "x")
        assert unknown.value.status_code == 404 and "no-such-model" in unknown.value.message
        with pytest.raises(ApiError) as bad:
            commons.submit(sam, inputs=[photo], params={"mode": "sideways"})
        assert bad.value.status_code == 422 and "mode" in bad.value.message
        with pytest.raises(BadArgument, match="no such file"):
            commons.submit(sam, inputs=[tmp_path / "missing.png"], params=SAM_PARAMS)
    assert not (tmp_path / "x").exists()


@ON_SQLITE
def test_a_corrupt_download_is_refused_and_not_kept(account: Account, sam: str, tmp_path: Path) -> None:
    with account.commons() as commons:
        task = commons.submit(sam, inputs=[write_photo(tmp_path / "p.png")], params=SAM_PARAMS)
        ended = commons.follow(task["id"])
        with pytest.raises(TaskFailed):  # a task that has not succeeded has no outputs to fetch
            commons.outputs({**ended, "status": "failed", "error": "gone"}, tmp_path / "never")
    first = ended["outputs"][0]
    lying = {**ended, "outputs": [{**first, "sha256": "0" * 64}]}
    with pytest.raises(DownloadError, match="do not match"):
        download_outputs(lying, tmp_path / "bad")
    assert list((tmp_path / "bad").rglob("*.*")) == []  # neither the file nor its .part
    escaping = {**ended, "outputs": [{**first, "name": "../escaped.png"}]}
    with pytest.raises(DownloadError, match="no safe file name"):
        download_outputs(escaping, tmp_path / "esc")
    assert not (tmp_path / "escaped.png").exists()


@ON_SQLITE
@pytest.mark.usefixtures("config_home")
def test_sign_in_makes_a_token_saved_for_its_server_only(stack: RunningStack, account: Account) -> None:
    path = credentials.save(credentials.Credentials(url=account.url, token=account.token, username="x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with Commons.from_credentials() as commons:
        assert commons.whoami()["username"] == account.username
    assert account.token.startswith("mc_")


@pytest.mark.usefixtures("config_home")
def test_credentials_from_the_environment_win_and_never_leak_to_another_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NotSignedIn, match="commons login"):
        credentials.load()
    path = credentials_file = credentials.save(credentials.Credentials(url="http://127.0.0.1:9", token="mc_saved"))
    assert path == tmp_path / "config" / "commons" / "credentials"
    credentials_file.chmod(0o644)  # an old file with wider rights is narrowed when written again
    credentials.save(credentials.Credentials(url="http://127.0.0.1:9", token="mc_saved"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.load().token == "mc_saved"
    monkeypatch.setenv("COMMONS_TOKEN", "mc_env")
    assert credentials.load().token == "mc_env"
    monkeypatch.delenv("COMMONS_TOKEN")
    monkeypatch.setenv("COMMONS_URL", "https://elsewhere.example")
    with pytest.raises(NotSignedIn, match=r"no API token for https://elsewhere\.example"):
        credentials.load()  # the saved token is for 127.0.0.1:9 alone
    path.write_text("not json")
    monkeypatch.delenv("COMMONS_URL")
    with pytest.raises(NotSignedIn, match="not valid JSON"):
        credentials.load()


def test_resource_refs_and_parameters() -> None:
    assert resource_ref("alice/sam:3") == ("alice/sam", 3)
    assert resource_ref("alice/sam") == ("alice/sam", "latest")
    assert resource_ref("sam:latest") == ("sam", "latest")
    for bad in ("alice/sam:0", "alice/sam:two", ":3"):
        with pytest.raises(BadArgument):
            resource_ref(bad)
    params = params_from_pairs(["mode=auto", "auto.points_per_side=4", 'outputs=["json"]', "name=a=b"])
    assert params == {"mode": "auto", "auto": {"points_per_side": 4}, "outputs": ["json"], "name": "a=b"}
    assert params_from_pairs(["auto.x=1"], {"auto": {"y": 2}}) == {"auto": {"y": 2, "x": 1}}
    for bad in ("novalue", "=1", "a..b=1", "mode.x=1"):
        with pytest.raises(BadArgument):
            params_from_pairs([bad], {"mode": "auto"})
