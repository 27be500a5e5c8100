"""The one Settings object: environment variables, resolved defaults, placeholder secrets refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from commons.settings import DEVELOPMENT_SECRET_KEY, PLACEHOLDER_SECRETS, Settings


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
    for placeholder in (DEVELOPMENT_SECRET_KEY, "change-me", ""):
        monkeypatch.setenv("COMMONS_SECRET_KEY", placeholder)
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


def test_a_production_process_without_the_jwt_key_cannot_sign_or_check_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers run without COMMONS_SECRET_KEY: their settings hold a random key no token matches, and the API
    (the one process that signs tokens) refuses to start without a real one."""
    monkeypatch.delenv("COMMONS_SECRET_KEY", raising=False)
    monkeypatch.setenv("COMMONS_ENVIRONMENT", "production")
    monkeypatch.setenv("COMMONS_S3_SECRET_KEY", "another-real-secret-9876543210")
    worker, other = Settings(), Settings()
    assert worker.secret_key not in PLACEHOLDER_SECRETS and len(worker.secret_key) >= 32
    assert worker.secret_key != other.secret_key, "random per process: a token from one is worthless to another"
    with pytest.raises(ValueError, match="COMMONS_SECRET_KEY is not set; the API signs and checks tokens"):
        worker.check_signing_key()
    from api.app import create_app

    with pytest.raises(ValueError, match="COMMONS_SECRET_KEY is not set"):
        create_app(worker)
    monkeypatch.setenv("COMMONS_SECRET_KEY", "a-real-secret-from-the-vault-0123456789")
    Settings().check_signing_key()
    Settings(environment="development").check_signing_key()  # development: the development key


def test_development_secrets_and_loopback_are_recognised() -> None:
    assert Settings().development_secrets_in_use() == [
        "COMMONS_SECRET_KEY",
        "COMMONS_S3_ACCESS_KEY",
        "COMMONS_S3_SECRET_KEY",
    ]
    assert Settings(secret_key="a-real-secret-0123456789abcdefghij").development_secrets_in_use() == [
        "COMMONS_S3_ACCESS_KEY",
        "COMMONS_S3_SECRET_KEY",
    ]
    real = Settings(secret_key="a-real-secret-0123456789abcdefghij", s3_secret_key="s3-real-secret-0123456789")
    assert real.development_secrets_in_use() == []
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert Settings(host=host).listens_on_loopback, host
    for host in ("0.0.0.0", "::", "192.168.1.20", "commons.example.org"):
        assert not Settings(host=host).listens_on_loopback, host
