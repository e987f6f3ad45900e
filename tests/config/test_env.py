"""The typed settings object: key generation, PostgreSQL refusal, documented settings."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from pulseboard.config.env import ConfigurationError, Env, resolve_keys

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
