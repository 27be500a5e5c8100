"""The `commons` command's user management, against a real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from commons.db import get_engine
from registry.models import User

COMMONS = str(Path(sys.executable).parent / "commons")


def test_user_create_admin(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            COMMONS,
            "user",
            "create",
            "root-admin",
            "--admin",
            "--password",
            "a long password",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "created admin user root-admin" in result.stdout
    with Session(get_engine(f"sqlite:///{tmp_path.resolve() / 'commons.db'}")) as session:
        user = session.exec(select(User).where(User.username == "root-admin")).one()
        assert user.is_admin
        assert user.password_hash.startswith("$argon2")

    again = subprocess.run(
        [COMMONS, "user", "create", "root-admin", "--password", "a long password", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode != 0
    assert "taken" in again.stdout + again.stderr
    short = subprocess.run(
        [COMMONS, "user", "create", "shorty", "--password", "short", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert short.returncode != 0
    assert "at least 8 characters" in short.stdout + short.stderr
