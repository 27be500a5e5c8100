"""The `commons` commands for scripts against the real stack: log in (token kept 0600), publish a tiny SAM, run
a segmentation end to end into a folder, reproduce it, move a dataset in and out; errors as the API words them,
never a traceback, with exit code 1 (2 for a wrong command line)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from launcher.cli import app
from launcher.sdk import credentials
from resources.sam.model import TINY_CONFIG
from tests.conftest import RunningStack
from tests.sdk_support import (
    ON_SQLITE,
    PASSWORD,
    SAM_PARAMS,
    Account,
    config_home,  # noqa: F401 - a fixture
    new_account,
    publish_tiny_sam,
    write_photo,
    write_tiny_sam,
)

COMMONS = Path(sys.executable).parent / "commons"
runner = CliRunner()


def commons(*args: str | Path) -> tuple[int, str, str]:
    """The command in this process (typer's runner); its exit code, stdout and stderr."""
    result = runner.invoke(app, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback would have reached the person: the test fails on it
    return result.exit_code, result.stdout, result.stderr


def log_in(account: Account) -> None:
    code, _, err = commons("login", account.url, "--token", account.token)
    assert code == 0, err


@pytest.fixture(scope="module")
def account(stack: RunningStack) -> Account:
    return new_account(stack)


@pytest.fixture(scope="module")
def sam(account: Account, tmp_path_factory: pytest.TempPathFactory) -> str:
    return publish_tiny_sam(account, write_tiny_sam(tmp_path_factory.mktemp("sam")))


@ON_SQLITE
@pytest.mark.usefixtures("config_home")
def test_login_with_a_password_keeps_a_new_api_token_readable_by_its_owner_alone(
    stack: RunningStack, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = stack.settings.api_url
    code, _, err = commons("login", url, "--username", account.username, "--password", PASSWORD)
    assert code == 0, err
    assert f"as {account.username}" in err
    path = credentials.credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["url"] == url and saved["token"].startswith("mc_") and PASSWORD not in path.read_text()
    assert commons("whoami") == (0, f"{account.username} on {url}\n", "")
    code, _, err = commons("logout")
    assert code == 0 and not path.exists()
    # The token is revoked on the commons too: the API refuses it.
    monkeypatch.setenv("COMMONS_URL", url)
    monkeypatch.setenv("COMMONS_TOKEN", saved["token"])
    code, out, err = commons("whoami")
    assert code == 1 and out == "" and err.startswith("error: ") and "revoked" in err


@ON_SQLITE
@pytest.mark.usefixtures("config_home")
def test_wrong_password_and_no_credentials_are_plain_errors(stack: RunningStack, account: Account) -> None:
    code, _, err = commons("login", stack.settings.api_url, "--username", account.username, "--password", "nope")
    assert code == 1 and err.startswith("error: ") and "password" in err
    assert not credentials.credentials_path().exists()
    code, _, err = commons("resources", "list")
    assert code == 1 and "commons login" in err
    code, _, err = commons("login", "ftp://example.org", "--token", "x")
    assert code == 1 and "not an http(s) URL" in err


@ON_SQLITE
def test_a_bad_token_is_a_plain_error_with_exit_code_1_from_the_installed_command(
    stack: RunningStack, tmp_path: Path
) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "COMMONS_URL": stack.settings.api_url}
    env["COMMONS_TOKEN"] = "mc_this-is-not-a-token"
    done = subprocess.run(
        [COMMONS, "resources", "create", "x", "--kind", "segmenter.sam", "--title", "X"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "token" in done.stderr.lower() and done.stdout == ""


@ON_SQLITE
@pytest.mark.usefixtures("config_home")
def test_sam_segmentation_end_to_end_into_a_folder_then_reproduced(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(account)
    weights = write_tiny_sam(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
    code, out, err = commons("resources", "create", "tiny-sam", "--kind", "segmenter.sam", "--title", "Tiny SAM")
    assert code == 0, err
    ref = out.strip()
    assert ref == f"{account.username}/tiny-sam"
    code, out, err = commons("resources", "upload", ref, weights, "--config", f"@{tmp_path / 'config.json'}")
    assert code == 0, err
    assert json.loads(out)["version"] == 1
    code, out, _ = commons("resources", "list")
    assert code == 0 and any(line.split()[:3] == [ref, "segmenter.sam", "v1"] for line in out.splitlines())

    photo = write_photo(tmp_path / "square.png")
    monkeypatch.chdir(tmp_path)
    auto = SAM_PARAMS["auto"]
    code, out, err = commons(
        "run", f"{ref}:1", "--input", photo, "--param", "mode=auto", "--param", 'outputs=["hard","json"]',
        *(arg for key, value in auto.items() for arg in ("--param", f"auto.{key}={value}")),
        "--out", "segments",
    )  # fmt: skip
    assert code == 0, err
    folder = tmp_path / "segments"
    assert out.strip() == "segments" and "succeeded" in err
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["params"]["auto"]["points_per_side"] == 2
    for listed in manifest["outputs"]:
        assert hashlib.sha256((folder / listed["name"]).read_bytes()).hexdigest() == listed["sha256"]
    assert (folder / "square" / "hard.png").stat().st_size > 0
    task_id = manifest["task"]["id"]
    code, out, err = commons("follow", task_id, "-q", "-o", "fetched")  # a task that ended: only the download
    assert code == 0, err
    assert (tmp_path / "fetched" / "manifest.json").read_text() == (folder / "manifest.json").read_text()

    code, out, err = commons("reproduce", task_id, "--out", "again", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["status"] == "succeeded" and str(tmp_path / "again" / "reproduction.json") in {
        str(tmp_path / p) for p in answer["files"]
    }
    assert "reproduction PASSED" in err
    assert json.loads((tmp_path / "again" / "reproduction.json").read_text())["digests_match"] is True


@ON_SQLITE
@pytest.mark.usefixtures("config_home")
def test_unknown_resource_bad_parameters_and_missing_photo_are_plain_errors(
    account: Account, sam: str, tmp_path: Path
) -> None:
    log_in(account)
    photo = write_photo(tmp_path / "p.png")
    code, out, err = commons("run", "nobody-here/no-such-model", "--input", photo, "-o", tmp_path / "o")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "no-such-model" in err and "Traceback" not in err
    code, _, err = commons("run", sam, "--input", photo, "--param", "mode=sideways", "-o", tmp_path / "o")
    assert code == 1 and "mode" in err
    code, _, err = commons("run", sam, "--input", photo, "--param", "nonsense", "-o", tmp_path / "o")
    assert code == 1 and "KEY=VALUE" in err
    code, _, err = commons("run", sam, "--input", tmp_path / "missing.png")
    assert code == 1 and "no such file" in err
    code, _, err = commons("run", f"{sam}:0", "--input", photo)
    assert code == 1 and "version" in err
    code, _, _ = commons("run", sam, "--lane")  # a wrong command line: typer's usage error
    assert code == 2
    assert not (tmp_path / "o").exists()


@ON_SQLITE
@pytest.mark.usefixtures("config_home")
def test_dataset_folder_imported_then_exported_as_class_folders(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(account)
    source = tmp_path / "birds"
    for label, seeds in (("wren", (1, 2)), ("robin", (3,))):
        (source / label).mkdir(parents=True)
        for seed in seeds:
            write_photo(source / label / f"{label}-{seed}.png", size=(32, 32), seed=seed)
    code, out, err = commons("datasets", "import", source)
    assert code == 0, err
    ref = out.strip()
    assert ref == f"{account.username}/birds" and "3 added" in err and "2 class(es) created" in err
    code, out, err = commons("datasets", "import", source, "--into", ref)
    assert code == 0 and "0 added, 3 already there" in err
    code, out, _ = commons("datasets", "list")
    assert any(line.startswith(ref) and "3 (3 labelled)" in line for line in out.splitlines())

    monkeypatch.chdir(tmp_path)
    code, out, err = commons("datasets", "export", ref)
    assert code == 0, err
    with zipfile.ZipFile(tmp_path / out.strip()) as archive:
        names = sorted(name for name in archive.namelist() if not name.endswith("/"))
        assert [name.split("/")[0] for name in names] == ["robin", "wren", "wren"]
        sent = {hashlib.sha256(p.read_bytes()).hexdigest() for p in source.rglob("*.png")}
        assert {hashlib.sha256(archive.read(name)).hexdigest() for name in names} == sent
    code, out, err = commons("datasets", "export", ref, "--coco")
    assert code == 0, err
    assert out.strip() == "birds-coco.zip"
    code, out, err = commons("datasets", "import", "birds-coco.zip", "--coco", "--name", "Birds again")
    assert code == 0, err
    assert out.strip() == f"{account.username}/birds-again" and "3 added, 3 labelled, 2 class(es)" in err
    code, _, err = commons("datasets", "import", "birds-coco.zip", "--coco", "--into", ref)
    assert code == 1 and "--into" in err
    code, _, err = commons("datasets", "export", f"{account.username}/no-such-set")
    assert code == 1 and err.startswith("error: ")
    assert not (tmp_path / "no-such-set.zip").exists()
