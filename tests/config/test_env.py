"""The typed settings object: key generation, PostgreSQL refusal, documented settings."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from pulseboard.config.env import (
    ConfigurationError,
    Env,
    base_url_derive,
    email_config,
    get_env,
    listening_url,
    resolve_keys,
)
from pulseboard.core.client_address import networks_parse

ROOT = Path(__file__).resolve().parents[2]


def test_keys_are_generated_once_into_data_dir_with_mode_0600(tmp_path: Path) -> None:
    env = Env(data_dir=tmp_path, secret_key=None, encryption_keys=None, database_url="")
    first = resolve_keys(env)
    second = resolve_keys(env)
    assert first == second
    for name in ("secret_key", "encryption_keys"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600


def test_postgres_mode_without_keys_refuses_to_start_and_says_what_to_set(tmp_path: Path) -> None:
    env = Env(
        data_dir=tmp_path,
        database_url="postgresql://db/x",
        debug=False,
        secret_key=None,
        encryption_keys=None,
    )
    with pytest.raises(ConfigurationError) as caught:
        resolve_keys(env)
    assert "PULSEBOARD_SECRET_KEY" in str(caught.value)
    assert "PULSEBOARD_ENCRYPTION_KEYS" in str(caught.value)
    assert not (tmp_path / "secret_key").exists()


def test_bad_fernet_key_is_a_configuration_error(tmp_path: Path) -> None:
    env = Env(data_dir=tmp_path, secret_key="s", encryption_keys="not-a-key")
    with pytest.raises(ConfigurationError):
        resolve_keys(env)


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`((?:PULSEBOARD_|DATABASE_URL)[A-Z0-9_]*)`", doc))
    expected = {
        "DATABASE_URL" if name == "database_url" else f"PULSEBOARD_{name.upper()}"
        for name in Env.model_fields
    }
    assert expected - documented == set(), "settings missing from docs/configuration.md"


# --- E-mail (PULSEBOARD_EMAIL_URL / PULSEBOARD_EMAIL_FROM) -----------------------------

SENDER = "Pulseboard <kpi@example.com>"


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "password", "starttls", "implicit"),
    [
        ("smtp://mail.example.com", "mail.example.com", 25, "", "", False, False),
        ("smtp://u:pw-1@127.0.0.1:2525", "127.0.0.1", 2525, "u", "pw-1", False, False),
        (
            "smtp+starttls://u:pw-2@smtp.example.com",
            "smtp.example.com",
            587,
            "u",
            "pw-2",
            True,
            False,
        ),
        ("smtps://u:pw-3@smtp.example.com", "smtp.example.com", 465, "u", "pw-3", False, True),
        ("SMTPS://apikey:a%40b%3Ac@[::1]:4650/", "::1", 4650, "apikey", "a@b:c", False, True),
    ],
)
def test_email_url_forms_map_to_host_port_credentials_and_tls(
    url: str, host: str, port: int, user: str, password: str, starttls: bool, implicit: bool
) -> None:
    config = email_config(Env(email_url=url, email_from=SENDER))
    assert config is not None
    assert (config.host, config.port, config.username, config.password) == (
        host,
        port,
        user,
        password,
    )
    assert (config.use_starttls, config.use_implicit_tls) == (starttls, implicit)
    assert config.from_address == SENDER
    if password:
        assert password not in repr(config)


def test_no_email_url_means_email_is_off() -> None:
    assert email_config(Env(email_url=None, email_from=SENDER)) is None
    assert email_config(Env(email_url="  ", email_from="")) is None


@pytest.mark.parametrize(
    ("url", "sender", "says"),
    [
        ("http://u:hunter2-secret@mail.example.com", SENDER, "must start with smtp://"),
        ("mail.example.com", SENDER, "must start with smtp://"),
        ("smtp://u:hunter2-secret@mail.example.com:99999", SENDER, "port from 1 to 65535"),
        ("smtp://u:hunter2-secret@mail.example.com:abc", SENDER, "not a valid URL"),
        ("smtp://u:hunter2-secret@", SENDER, "names no host"),
        ("smtp://u:hunter2-secret@mail.example.com/x?y=1", SENDER, "no path or query"),
        ("smtp://:hunter2-secret@mail.example.com", SENDER, "no user name"),
        ("smtps://u:hunter2-secret@mail.example.com", "", "PULSEBOARD_EMAIL_FROM must be"),
        ("smtps://u:hunter2-secret@mail.example.com", "not an address", "is not an e-mail"),
    ],
)
def test_a_bad_email_setting_is_a_clear_error_that_never_shows_the_password(
    url: str, sender: str, says: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        email_config(Env(email_url=url, email_from=sender))
    assert says in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None  # the parser's own message may quote the URL


# --- Trusted proxies, base URL, session timeout ------------------------------------------


def test_trusted_proxies_default_to_loopback_only() -> None:
    assert networks_parse(Env().trusted_proxies) == networks_parse("127.0.0.1/32,::1/128")


def test_a_bad_trusted_proxy_network_stops_the_start_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PULSEBOARD_TRUSTED_PROXIES", "10.0.0.0/8, 10.0.0.0/40")
    get_env.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as caught:
            get_env()
    finally:
        monkeypatch.undo()
        get_env.cache_clear()
    assert "PULSEBOARD_TRUSTED_PROXIES" in str(caught.value)
    assert "10.0.0.0/40" in str(caught.value)


def test_settings_errors_never_echo_the_refused_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSEBOARD_SESSION_IDLE_MINUTES", "s3cret-typed-in-the-wrong-box")
    get_env.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as caught:
            get_env()
    finally:
        monkeypatch.undo()
        get_env.cache_clear()
    assert "PULSEBOARD_SESSION_IDLE_MINUTES" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8765, "http://127.0.0.1:8765"),
        ("localhost", 9000, "http://localhost:9000"),
        ("kpi.internal", 80, "http://kpi.internal:80"),
        ("0.0.0.0", 8765, "http://127.0.0.1:8765"),
        ("::", 8765, "http://[::1]:8765"),
        ("::1", 8001, "http://[::1]:8001"),
        ("[2001:db8::5]", 8001, "http://[2001:db8::5]:8001"),
    ],
)
def test_serve_derives_the_url_it_listens_on(host: str, port: int, url: str) -> None:
    assert listening_url(host=host, port=port) == url


def test_base_url_derive_sets_the_url_only_when_none_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PULSEBOARD_BASE_URL", raising=False)
    get_env.cache_clear()
    try:
        assert base_url_derive(host="127.0.0.1", port=8765) == ("http://127.0.0.1:8765", True)
        assert get_env().base_url == "http://127.0.0.1:8765"
        monkeypatch.setenv("PULSEBOARD_BASE_URL", "https://kpi.example.com/")
        get_env.cache_clear()
        assert base_url_derive(host="127.0.0.1", port=8765) == ("https://kpi.example.com", False)
    finally:
        monkeypatch.undo()
        get_env.cache_clear()


@pytest.mark.parametrize("url", ["kpi.example.com", "ftp://kpi.example.com", "https://"])
def test_a_base_url_must_be_absolute_http(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        Env(base_url=url)


@pytest.mark.parametrize(
    ("settings", "secure"),
    [
        ({}, False),
        ({"base_url": "https://kpi.example.com"}, True),
        ({"https": True}, True),
        ({"secure_cookies": True}, True),
    ],
)
def test_cookies_are_secure_whenever_clients_use_https(
    settings: dict[str, object], secure: bool
) -> None:
    assert Env(**settings).public_https is secure  # type: ignore[arg-type]


@pytest.mark.parametrize("minutes", [0, 4, 366 * 24 * 60 + 1])
def test_the_idle_timeout_has_sane_bounds(minutes: int) -> None:
    with pytest.raises(ValueError, match="session_idle_minutes"):
        Env(session_idle_minutes=minutes)
