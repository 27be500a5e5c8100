"""The one Settings object: environment variables, resolved defaults, placeholder secrets refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from commons.settings import Settings


def test_environment_variables_and_resolved_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COMMONS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COMMONS_S3_PORT", "9100")
    monkeypatch.setenv("COMMONS_WARM_WORKERS", "3")
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'commons.db'}"
    assert settings.resolved_s3_endpoint == "127.0.0.1:9100"
    assert settings.resolved_prefect_api_url == "http://127.0.0.1:4200/api"
    assert settings.warm_workers == 3
    monkeypatch.setenv("COMMONS_DATABASE_URL", "postgresql+psycopg://db/commons")
    monkeypatch.setenv("COMMONS_S3_ENDPOINT", "minio:9000")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+psycopg://db/commons"
    assert settings.resolved_s3_endpoint == "minio:9000"


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="COMMONS_SECRET_KEY is a placeholder"):
        Settings()
    monkeypatch.setenv("COMMONS_SECRET_KEY", "a-real-secret-from-the-vault-0123456789")
    with pytest.raises(ValidationError, match="COMMONS_S3_SECRET_KEY is a placeholder"):
        Settings()
    monkeypatch.setenv("COMMONS_S3_SECRET_KEY", "another-real-secret-9876543210")
    assert Settings().environment == "production"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMONS_API_PORT", "70000")
    with pytest.raises(ValidationError, match="api_port"):
        Settings()


def test_secrets_stay_out_of_repr_and_validation_errors() -> None:
    from pydantic import ValidationError

    settings = Settings(secret_key="a-real-secret-0123456789", database_url="postgresql://u:db-password-42@h/db")
    assert "a-real-secret-0123456789" not in repr(settings) and "db-password-42" not in repr(settings)
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", secret_key="change-me", s3_secret_key="s3-real-secret-987")
    assert "s3-real-secret-987" not in str(refused.value)
    assert "COMMONS_SECRET_KEY is a placeholder" in str(refused.value)
