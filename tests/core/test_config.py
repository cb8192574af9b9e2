from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.config import Settings


def test_development_accepts_default_secrets() -> None:
    settings = Settings(environment="development")
    assert settings.secret_key.get_secret_value()
    assert not settings.secure_cookies


@pytest.mark.parametrize("environment", ["test", "production"])
def test_default_secrets_are_refused_outside_development(
    environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SECRET_KEY", "ACCESS_CODE_KEY", "VOTER_KEY"):
        monkeypatch.delenv(f"PLAZA_{name}", raising=False)
    with pytest.raises(ValidationError) as exc:
        Settings(environment=environment)  # type: ignore[arg-type]
    assert "PLAZA_SECRET_KEY" in str(exc.value)
    assert "PLAZA_VOTER_KEY" in str(exc.value)


def test_keys_must_differ_in_production() -> None:
    with pytest.raises(ValidationError, match="differ"):
        Settings(
            environment="production",
            secret_key="same-same-same-same",  # type: ignore[arg-type]
            access_code_key="same-same-same-same",  # type: ignore[arg-type]
            voter_key="other-other-other",  # type: ignore[arg-type]
        )


def test_production_uses_secure_cookies() -> None:
    settings = Settings(
        environment="production",
        secret_key="a" * 32,  # type: ignore[arg-type]
        access_code_key="b" * 32,  # type: ignore[arg-type]
        voter_key="c" * 32,  # type: ignore[arg-type]
    )
    assert settings.secure_cookies
    assert "a" * 32 not in repr(settings)


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAZA_DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    assert Settings().database_url == "sqlite:////tmp/elsewhere.db"
