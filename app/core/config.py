"""Settings from the environment (prefix ``PLAZA_``).

One ``Settings`` object, read once by ``get_settings()`` (cached).  Tests override it by
setting the environment and calling ``get_settings.cache_clear()`` (see tests/conftest.py)
and, inside the app, by handing them to ``create_app(settings)`` (see ``request_settings``).

Secrets are ``SecretStr``.  Outside ``development`` every secret must be set to something
other than its development default, or start-up fails with a clear message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-secret-change-me"
DEV_ACCESS_CODE_KEY = "dev-access-code-key-change-me"
DEV_VOTER_KEY = "dev-voter-key-change-me"
# A key anyone can guess (``x``, a blank, a word) is no better than the default.
MIN_SECRET_LENGTH = 16
_DEFAULT_SECRETS = {
    "secret_key": DEV_SECRET,
    "access_code_key": DEV_ACCESS_CODE_KEY,
    "voter_key": DEV_VOTER_KEY,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLAZA_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/plaza.sqlite3"
    # Session cookies and CSRF tokens are derived from this key.
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    # HMAC-SHA256 key for access codes (stored only as HMAC) and for voter identifiers.
    access_code_key: SecretStr = SecretStr(DEV_ACCESS_CODE_KEY)
    voter_key: SecretStr = SecretStr(DEV_VOTER_KEY)
    # None: secure cookies in production only (the demo serves plain http on loopback).
    cookie_secure: bool | None = None
    session_max_age_seconds: int = Field(default=14 * 24 * 3600, gt=0)
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    default_locale: Literal["en", "zh_Hans"] = "en"
    db_pool_size: int = Field(default=10, gt=0)
    db_max_overflow: int = Field(default=20, ge=0)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    # Argon2id cost; the defaults are argon2-cffi's RFC 9106 "low memory" profile.
    argon2_time_cost: int = Field(default=3, gt=0)
    argon2_memory_cost_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, gt=0)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        bad = [
            f"PLAZA_{name.upper()}"
            for name in _DEFAULT_SECRETS
            if getattr(self, name).get_secret_value().strip() in {*_DEFAULT_SECRETS.values(), ""}
            or len(getattr(self, name).get_secret_value().strip()) < MIN_SECRET_LENGTH
        ]
        if bad:
            raise ValueError(
                f"{', '.join(bad)} must be set to a secret value (at least "
                f"{MIN_SECRET_LENGTH} characters, e.g. `openssl rand -hex 32`) when "
                f"PLAZA_ENVIRONMENT={self.environment}"
            )
        keys = [getattr(self, n).get_secret_value() for n in _DEFAULT_SECRETS]
        if len(set(keys)) != len(keys):
            raise ValueError("PLAZA_SECRET_KEY, PLAZA_ACCESS_CODE_KEY and PLAZA_VOTER_KEY differ")
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def request_settings(request: Request) -> Settings:
    """The settings of the app serving ``request``: those ``create_app(settings)`` was given
    (kept on ``app.state``), else ``get_settings()``.  Hot dependencies call it directly:
    each dependency of their own costs FastAPI work on every request."""
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


async def settings_dependency(request: Request) -> Settings:
    """``request_settings`` as a dependency (async: a plain function would cost every
    request a hop to the threadpool)."""
    return request_settings(request)


SettingsDep = Annotated[Settings, Depends(settings_dependency)]
