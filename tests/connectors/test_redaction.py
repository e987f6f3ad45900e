"""The redaction of source configurations for the audit log: the pure default rules,
every registered connector's ``redacted_config``, and ``source_bind``'s audit events on
the test database (a real https_get binding; a stand-in kind with headers and a DSN).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django.conf import settings
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors import registry
from pulseboard.connectors.base import (
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
)
from pulseboard.connectors.models import Source
from pulseboard.connectors.redaction import (
    REDACTED,
    config_redacted,
    sensitive_name,
    url_redacted,
)
from pulseboard.connectors.registry import CONNECTORS
from pulseboard.connectors.services import source_bind
from pulseboard.core.actors import Actor
from pulseboard.indicators.models import Kpi

KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (
            f"https://api.example.com/v1/uptime?key={KEY}",
            "https://api.example.com/v1/uptime?key=•••",
        ),
        (
            f"https://api.example.com/m?units=ms&api_key={KEY}&x=",
            "https://api.example.com/m?units=•••&api_key=•••&x=•••",
        ),
        (f"https://api.example.com/m?{KEY}", "https://api.example.com/m?•••"),
        (f"https://api.example.com/m#access_token={KEY}", "https://api.example.com/m#•••"),
        (f"https://{KEY}@api.example.com/m", "https://•••@api.example.com/m"),
        (
            f"postgresql://reader:{KEY}@db.internal:5432/metrics?sslmode=require",
            "postgresql://reader:•••@db.internal:5432/metrics?sslmode=•••",
        ),
        ("https://status.example.com/api", "https://status.example.com/api"),
        ("https://status.example.com:8443/a/b/", "https://status.example.com:8443/a/b/"),
        ("$.data.uptime", "$.data.uptime"),
        ("B12", "B12"),
        ("https://[::1/x?key=1", REDACTED),  # not a URL Python can split: nothing kept
    ],
)
def test_urls_keep_where_they_point_and_lose_every_value(url: str, kept: str) -> None:
    assert url_redacted(url) == kept


@pytest.mark.parametrize(
    "name",
    [
        "headers",
        "Headers",
        "dsn",
        "bearer_token",
        "token",
        "refresh_token_encrypted",
        "client_secret",
        "password",
        "db_password",
        "passwd",
        "api_key",
        "apikey",
        "private_key",
        "key",
        "signing_key",
        "credentials",
        "cookie",
        "authorization",
        "basic_auth",
    ],
)
def test_secret_like_names_are_sensitive(name: str) -> None:
    assert sensitive_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "url",
        "json_path",
        "interval_seconds",
        "spreadsheet",
        "tab",
        "cell",
        "connection_id",
        "query",
    ],
)
def test_the_settings_of_the_built_in_kinds_are_not(name: str) -> None:
    assert not sensitive_name(name)


def test_sensitive_fields_keep_their_name_and_lose_their_value() -> None:
    config = {
        "url": f"https://api.example.com/v1?token={KEY}",
        "json_path": "$.value",
        "headers": {"X-Api-Key": KEY, "Accept": "application/json"},
        "dsn": f"postgresql://reader:{KEY}@db/metrics",
        "client_secret": KEY,
        "password": "",
        "access_token": None,
        "nested": {
            "auth": {"user": "u", "password": KEY},
            "links": [f"https://a.example/?k={KEY}"],
        },
    }
    assert config_redacted(config) == {
        "url": "https://api.example.com/v1?token=•••",
        "json_path": "$.value",
        "headers": {"X-Api-Key": REDACTED, "Accept": REDACTED},
        "dsn": REDACTED,
        "client_secret": REDACTED,
        "password": "",  # empty stays empty: the log still tells set from not set
        "access_token": None,
        "nested": {
            "auth": {"user": REDACTED, "password": REDACTED},
            "links": ["https://a.example/?k=•••"],
        },
    }


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=12,
)


@given(config=st.dictionaries(st.text(max_size=12), _json, max_size=5))
def test_any_json_config_redacts_to_json_without_raising(config: dict[str, Any]) -> None:
    json.dumps(config_redacted(config))


@given(secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=40))
def test_a_secret_in_a_query_or_a_sensitive_field_never_survives(secret: str) -> None:
    config = {
        "url": f"https://api.example.com/p?q={secret}",
        "headers": {"Authorization": f"Bearer {secret}"},
        "dsn": f"postgresql://u:{secret}@h/db",
        "token": secret,
    }
    assert secret not in json.dumps(config_redacted(config))


@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_every_registered_kind_redacts_query_values_headers_dsn_and_tokens(kind: str) -> None:
    config = {
        "url": f"https://api.example.com/v1?key={KEY}",
        "headers": {"X-Api-Key": KEY},
        "dsn": f"postgresql://reader:{KEY}@db/metrics",
        "api_token": KEY,
        "json_path": "$.value",
    }
    redacted = CONNECTORS[kind].redacted_config(config)
    assert KEY not in json.dumps(redacted)
    assert redacted["json_path"] == "$.value"


# --- what source_bind writes to the audit log ----------------------------------------------

ACTOR = Actor.system("test")
OTHER_KEY = "sk_live_9zZ8yY7xX6wW5vV4uU3tT2sS"


class DsnConfig(PullConfig):
    dsn: str
    headers: dict[str, str] = Field(default_factory=dict)
    query: str = "select 1"


class DsnPull(PullConnector[DsnConfig]):
    """Stands in for kinds that keep credentials in plain settings (a DSN, header values)."""

    kind: ClassVar[str] = "dsn_probe"
    label: ClassVar[str] = "DSN probe"
    summary: ClassVar[str] = "test"
    config_model = DsnConfig

    async def pull(self, context: PullContext, session: Any) -> Observation:
        raise PullError("not used here")


@pytest.fixture
def loopback_allowed() -> Iterator[None]:
    # Binding https_get resolves and judges the host; a literal loopback address needs
    # no DNS and no server, only the operator's permission.
    with override_settings(
        PULSEBOARD={**settings.PULSEBOARD, "ALLOW_PRIVATE_CIDRS": "127.0.0.1/32"}
    ):
        yield


@pytest.fixture
def kpi(db: None) -> Kpi:
    return KpiFactory(title="Uptime")


def source_events(kpi: Kpi) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(target_id=kpi.pk, action__startswith="source.").order_by("pk")
    )


def everything_audited() -> str:
    return json.dumps(list(AuditEvent.objects.values("before", "after", "target_label")))


def https_get(url: str, **more: Any) -> dict[str, Any]:
    return {"url": url, "json_path": "$.value", "interval_seconds": 300, **more}


@pytest.mark.usefixtures("loopback_allowed")
def test_binding_https_get_audits_the_url_with_its_query_values_masked(kpi: Kpi) -> None:
    config = https_get(f"https://127.0.0.1:9/v1/uptime?key={KEY}&units=ms", bearer_token=OTHER_KEY)
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config=config)
    (bound,) = source_events(kpi)
    assert bound.action == "source.bound"
    assert bound.after["config"]["url"] == "https://127.0.0.1:9/v1/uptime?key=•••&units=•••"
    assert bound.after["config"]["json_path"] == "$.value"
    assert bound.after["secret_hint"] == OTHER_KEY[-4:]
    assert KEY not in everything_audited() and OTHER_KEY not in everything_audited()
    # The source itself still holds the whole URL: the pull needs it.
    assert Source.objects.get(kpi=kpi).config["url"].endswith(f"key={KEY}&units=ms")


@pytest.mark.usefixtures("loopback_allowed")
def test_a_change_of_a_masked_value_only_is_saved_and_audited_as_such(kpi: Kpi) -> None:
    source_bind(
        kpi=kpi, actor=ACTOR, kind="https_get", config=https_get(f"https://127.0.0.1:9/v?key={KEY}")
    )
    changed = source_bind(
        kpi=kpi,
        actor=ACTOR,
        kind="https_get",
        config=https_get(f"https://127.0.0.1:9/v?key={OTHER_KEY}"),
    )
    assert changed.changed
    assert Source.objects.get(kpi=kpi).config["url"].endswith(OTHER_KEY)
    event = source_events(kpi)[-1]
    assert event.action == "source.config_changed"
    assert (
        event.before["config"]["url"]
        == event.after["config"]["url"]
        == "https://127.0.0.1:9/v?key=•••"
    )
    assert event.after["masked_values_changed"] is True
    assert KEY not in everything_audited() and OTHER_KEY not in everything_audited()


@pytest.mark.usefixtures("loopback_allowed")
def test_a_visible_change_is_not_flagged_as_masked(kpi: Kpi) -> None:
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config=https_get("https://127.0.0.1:9/a"))
    source_bind(kpi=kpi, actor=ACTOR, kind="https_get", config=https_get("https://127.0.0.1:9/b"))
    event = source_events(kpi)[-1]
    assert (event.before["config"]["url"], event.after["config"]["url"]) == (
        "https://127.0.0.1:9/a",
        "https://127.0.0.1:9/b",
    )
    assert "masked_values_changed" not in event.after


def test_header_values_and_dsn_passwords_never_reach_the_audit_log(
    kpi: Kpi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.CONNECTORS, DsnPull.kind, DsnPull())
    config = {
        "dsn": f"postgresql://reader:{KEY}@db.example.com/metrics",
        "headers": {"X-Api-Key": OTHER_KEY},
    }
    source_bind(kpi=kpi, actor=ACTOR, kind=DsnPull.kind, config=config)
    # Leaving the kind audits the old settings as "before": redacted just the same.
    source_bind(kpi=kpi, actor=ACTOR, kind="manual", config={})
    bound, left = source_events(kpi)
    assert bound.after["config"] == {
        "dsn": REDACTED,
        "headers": {"X-Api-Key": REDACTED},
        "query": "select 1",
    }
    assert left.before["config"] == bound.after["config"]
    assert KEY not in everything_audited() and OTHER_KEY not in everything_audited()


def test_a_kind_no_longer_registered_is_still_redacted_when_left(
    kpi: Kpi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.CONNECTORS, DsnPull.kind, DsnPull())
    source_bind(
        kpi=kpi, actor=ACTOR, kind=DsnPull.kind, config={"dsn": f"postgresql://u:{KEY}@h/db"}
    )
    monkeypatch.delitem(registry.CONNECTORS, DsnPull.kind)
    source_bind(kpi=kpi, actor=ACTOR, kind="manual", config={})
    assert source_events(kpi)[-1].before["config"]["dsn"] == REDACTED
    assert KEY not in everything_audited()
