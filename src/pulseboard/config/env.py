"""The one typed settings object: every environment variable Pulseboard reads.

Nothing else in the code base reads ``os.environ``; ``docs/configuration.md``
lists every field here and a test checks that the two agree.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pulseboard.core.client_address import networks_parse
from pulseboard.orgs.rates import parse_rate

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8000"
# The proxy the docs describe runs on the same machine (docs/operations.md); gunicorn and
# uvicorn trust loopback by default for the same reason.
DEFAULT_TRUSTED_PROXIES: Final = "127.0.0.1/32,::1/128"
EMAIL_SCHEMES: Final = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


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
    base_url: str = DEFAULT_BASE_URL
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES
    email_url: SecretStr | None = None
    email_from: str = ""
    metrics_token: SecretStr | None = None
    session_idle_minutes: int = Field(default=14 * 24 * 60, ge=5, le=366 * 24 * 60)
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

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_are_valid(cls, value: str) -> str:
        networks_parse(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_is_absolute(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.strip().rstrip("/")

    @property
    def public_https(self) -> bool:
        """Clients reach Pulseboard over HTTPS (so cookies must be ``Secure``)."""
        return self.https or self.secure_cookies or self.base_url.startswith("https://")

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


@dataclass(frozen=True)
class EmailConfig:
    """Where and how to send e-mail: ``PULSEBOARD_EMAIL_URL`` and ``PULSEBOARD_EMAIL_FROM``."""

    host: str
    port: int
    username: str
    password: str
    use_starttls: bool
    use_implicit_tls: bool
    from_address: str

    def __repr__(self) -> str:
        # Never the password, whoever prints this object.
        return (
            f"EmailConfig(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"starttls={self.use_starttls}, tls={self.use_implicit_tls}, "
            f"from={self.from_address!r})"
        )


def email_config(env: Env) -> EmailConfig | None:
    """The parsed e-mail settings; None when e-mail is not configured.

    Every error message names the setting and the rule, never the URL itself: it holds
    the SMTP password.
    """
    raw = env.email_url.get_secret_value().strip() if env.email_url else ""
    if not raw:
        return None
    name = "PULSEBOARD_EMAIL_URL"
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in EMAIL_SCHEMES:
        raise ConfigurationError(
            f"{name} must start with smtp://, smtp+starttls:// or smtps:// "
            "(smtp://user:password@host:port)"
        )
    try:
        parts = urlsplit(raw)
        port = parts.port or EMAIL_SCHEMES[scheme]
    except ValueError:
        raise ConfigurationError(
            f"{name} is not a valid URL: give smtp://user:password@host:port, with a port "
            "from 1 to 65535 and special characters in the user or password %-encoded"
        ) from None
    if not parts.hostname:
        raise ConfigurationError(f"{name} names no host: smtp://user:password@host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} takes no path or query: smtp://user:password@host:port")
    if parts.password is not None and not parts.username:
        raise ConfigurationError(f"{name} has a password but no user name")
    sender = env.email_from.strip()
    if not sender:
        raise ConfigurationError(
            "PULSEBOARD_EMAIL_URL is set, so PULSEBOARD_EMAIL_FROM must be too: the address "
            "invites and password resets come from (e.g. Pulseboard <kpi@example.com>)"
        )
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip() if "<" in sender else sender
    try:
        validate_email(address)
    except DjangoValidationError:
        raise ConfigurationError(
            f"PULSEBOARD_EMAIL_FROM {sender!r} is not an e-mail address "
            "(kpi@example.com or Pulseboard <kpi@example.com>)"
        ) from None
    return EmailConfig(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_starttls=scheme == "smtp+starttls",
        use_implicit_tls=scheme == "smtps",
        from_address=sender,
    )


def listening_url(*, host: str, port: int) -> str:
    """The URL of a server bound to ``host``:``port``, as a browser on this machine types it.

    A wildcard bind (all interfaces) has no one public name; the loopback address is the
    one that surely works here, and ``serve`` says to set ``PULSEBOARD_BASE_URL`` then.
    """
    name = host.strip().strip("[]") or "127.0.0.1"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return f"http://{name}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{port}"


def base_url_derive(*, host: str, port: int) -> tuple[str, bool]:
    """The public URL for ``serve``, and whether it was derived (not configured).

    Without ``PULSEBOARD_BASE_URL``, links (webhook endpoints, invites, password resets)
    would name the default port whatever ``--port`` says. This sets the variable for this
    process before Django's settings load, so the settings, every gunicorn process and
    the embedded worker (which inherit the environment) agree on one URL.
    """
    env = get_env()
    if "base_url" in env.model_fields_set:
        return env.base_url, False
    url = listening_url(host=host, port=port)
    os.environ["PULSEBOARD_BASE_URL"] = url
    get_env.cache_clear()
    return url, True


def _setting_name(field: object) -> str:
    name = str(field)
    return name if name == "DATABASE_URL" else f"PULSEBOARD_{name.upper()}"


@lru_cache(maxsize=1)
def get_env() -> Env:
    try:
        return Env()
    except ValidationError as exc:
        # include_input=False: a refused value may be a secret; the message says the rule.
        problems = "; ".join(
            f"{_setting_name(error['loc'][0]) if error['loc'] else 'settings'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
