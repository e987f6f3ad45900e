"""``pulseboard rotate-keys``: re-encrypts stored secrets with the first key, or changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from tests.factories import KpiFactory

from pulseboard.cli import cli
from pulseboard.connectors.models import Source
from pulseboard.connectors.services import source_bind
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import cipher

pytestmark = pytest.mark.django_db


def test_rotate_keys_moves_secrets_to_the_first_key(settings: Any) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    kpi = KpiFactory()
    secret = source_bind(kpi=kpi, actor=Actor.system("test"), kind="webhook", config={}).secret
    settings.ENCRYPTION_KEYS = [new_key, old_key]

    result = CliRunner().invoke(cli, ["rotate-keys"])

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 source secret(s) and 0 Google connection(s)" in result.output
    settings.ENCRYPTION_KEYS = [new_key]
    assert cipher().decrypt(Source.objects.get(kpi=kpi).secret_encrypted) == secret


def test_rotate_keys_refuses_when_a_key_is_missing(settings: Any) -> None:
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    kpi = KpiFactory()
    source_bind(kpi=kpi, actor=Actor.system("test"), kind="webhook", config={})
    stored = Source.objects.get(kpi=kpi).secret_encrypted
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    result = CliRunner().invoke(cli, ["rotate-keys"])

    assert result.exit_code == 1
    assert "Nothing was changed" in result.output
    assert Source.objects.get(kpi=kpi).secret_encrypted == stored
