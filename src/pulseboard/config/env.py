"""The one typed settings object: every environment variable Pulseboard reads.

Nothing else in the code base reads ``os.environ``; ``docs/configuration.md``
lists every field here and a test checks that the two agree.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pulseboard.orgs.rates import parse_rate


class ConfigurationError(RuntimeError):
    """Pulseboard cannot start with this configuration; the message says what to set."""


class Env(BaseSettings):
    """Environment variables, parsed and typed once at start-up."""

    model_config = SettingsConfigDict(env_prefix="PULSEBOARD_", extra="ignore")

    data_dir: Path = Field(default=Path("pulseboard-data"))
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    secret_key: SecretStr | None = None
    encryption_keys: SecretStr | None = None
    debug: bool = False
    allowed_hosts: str = "localhost,127.0.0.1,[::1]"
    csrf_trusted_origins: str = ""
    base_url: str = "http://127.0.0.1:8000"
    secure_cookies: bool = False
    https: bool = False
    hsts_seconds: int = Field(default=31_536_000, ge=0)
    hsts_preload: bool = False
    log_level: str = "INFO"
    allow_private_cidrs: str = ""
    ca_bundle: str = ""
    worker_concurrency: int = 50
    worker_batch_size: int = 100
    worker_poll_seconds: float = 1.0
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    api_write_rate: str = "120/minute"
    google_client_id: str = ""
    google_client_secret: SecretStr | None = None
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    google_sheets_url: str = "https://sheets.googleapis.com"

    @field_validator("api_write_rate")
    @classmethod
    def _rate_is_valid(cls, value: str) -> str:
        parse_rate(value)  # raises ValueError with a hint, reported as a settings error
        return value

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "pgsql://"))

    def split(self, value: str) -> list[str]:
        return [part.strip() for part in value.split(",") if part.strip()]


def _read_or_create(path: Path, make: object) -> str:
    """Generate a key once into the data directory, readable by the owner only."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make() if callable(make) else str(make)
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def resolve_keys(env: Env) -> tuple[str, list[str]]:
    """The signing key and the Fernet keys; generated into the data dir in embedded mode."""
    secret = env.secret_key.get_secret_value() if env.secret_key else ""
    fernet = env.encryption_keys.get_secret_value() if env.encryption_keys else ""
    if env.uses_postgres and not env.debug and (not secret or not fernet):
        missing = [
            name
            for name, value in (
                ("PULSEBOARD_SECRET_KEY", secret),
                ("PULSEBOARD_ENCRYPTION_KEYS", fernet),
            )
            if not value
        ]
        raise ConfigurationError(
            "PostgreSQL mode needs its keys set explicitly so that every web and worker "
            f"process shares them: set {' and '.join(missing)}. Generate them with "
            "`pulseboard keys generate`."
        )
    if not secret:
        secret = _read_or_create(env.data_dir / "secret_key", lambda: secrets.token_urlsafe(50))
    if not fernet:
        fernet = _read_or_create(
            env.data_dir / "encryption_keys", lambda: Fernet.generate_key().decode()
        )
    keys = env.split(fernet)
    for key in keys:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "PULSEBOARD_ENCRYPTION_KEYS must be comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each)"
            ) from exc
    return secret, keys


@lru_cache(maxsize=1)
def get_env() -> Env:
    return Env()
