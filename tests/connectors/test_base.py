"""The connector interface's shared rules, with a small pull connector declared here.

The connector below is shaped like a real pull kind (a URL, an optional token, an
interval) so the default binding (secret kept / set / cleared, interval moved out
of the stored JSON), the derived form fields and the status text are checked
without any real kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from pydantic import Field, SecretStr

from pulseboard.connectors.base import (
    BindContext,
    Binding,
    ConnectorConfig,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
    SecretClear,
    SecretKeep,
    SecretSet,
    SourceState,
    secret_hint,
)
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import SafeSession

NOW = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


class ProbeConfig(PullConfig):
    url: str = Field(title="URL", description="where to read", json_schema_extra={"widget": "url"})
    token: SecretStr | None = Field(default=None, title="Bearer token")


class ProbeConnector(PullConnector[ProbeConfig]):
    kind: ClassVar[str] = "probe"
    label: ClassVar[str] = "Probe"
    summary: ClassVar[str] = "A pull kind for these tests."
    config_model = ProbeConfig

    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        config = self.stored_config(context.config)
        return Observation(value=float(len(config.url)))


def context(kind: str = "manual", *, has_secret: bool = False) -> BindContext:
    return BindContext(
        org_id=1,
        user_id=7,
        kpi_id="k",
        current_kind=kind,
        current_config={},
        has_secret=has_secret,
        now=NOW,
    )


def bind(raw: dict[str, object], kind: str = "manual", *, has_secret: bool = False) -> Binding:
    return ProbeConnector().binding_validate(raw, context=context(kind, has_secret=has_secret))


def test_the_secret_is_never_in_the_stored_config() -> None:
    binding = bind({"url": "https://x.test/v", "token": "s3cret-token"})
    assert binding.config == {"url": "https://x.test/v"}
    assert binding.secret == SecretSet("s3cret-token")
    assert not binding.secret.shown_once


def test_the_interval_moves_from_the_config_to_the_binding() -> None:
    binding = bind({"url": "https://x.test/v", "interval_seconds": 120})
    assert binding.interval_seconds == 120
    assert "interval_seconds" not in binding.config


def test_the_interval_defaults_to_15_minutes() -> None:
    assert bind({"url": "https://x.test/v"}).interval_seconds == 900


@pytest.mark.parametrize("interval", [0, 59, -1, 8 * 24 * 3600, "often"])
def test_an_interval_under_a_minute_or_over_a_week_is_refused(interval: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        bind({"url": "https://x.test/v", "interval_seconds": interval})
    assert "interval_seconds" in caught.value.errors


@pytest.mark.parametrize(
    ("raw", "current", "has_secret", "expected"),
    [
        ({}, "probe", True, SecretKeep()),  # edit without retyping: keep
        ({"token": None}, "probe", True, SecretKeep()),
        ({}, "manual", False, SecretClear()),  # another kind's secret never carries over
        ({}, "webhook", True, SecretClear()),
        ({"token": ""}, "probe", True, SecretClear()),  # empty: remove it
        ({"token": "new-one"}, "probe", True, SecretSet("new-one")),
    ],
)
def test_the_secret_is_kept_cleared_or_set(
    raw: dict[str, object], current: str, has_secret: bool, expected: object
) -> None:
    binding = bind({"url": "https://x.test/v", **raw}, current, has_secret=has_secret)
    assert binding.secret == expected


def test_the_secret_is_hidden_from_repr() -> None:
    binding = bind({"url": "https://x.test/v", "token": "s3cret-token"})
    assert "s3cret-token" not in repr(binding)


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        ({}, "url", "Field required"),
        ({"url": "https://x.test", "colour": "red"}, "colour", "not a setting"),
        ({"url": ["not", "text"]}, "url", "valid string"),
    ],
)
def test_bad_settings_name_each_field(raw: dict[str, object], field: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        bind(raw)
    assert says in caught.value.errors[field]
    assert caught.value.message.startswith("invalid probe settings: ")
    assert caught.value.status == 422


@pytest.mark.parametrize("raw", [None, [], "url=x", 3])
def test_settings_that_are_not_an_object_are_refused(raw: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ProbeConnector().binding_validate(raw, context=context())  # type: ignore[arg-type]
    assert caught.value.errors == {"config": "not an object"}


def test_stored_settings_that_no_longer_validate_are_a_pull_error() -> None:
    with pytest.raises(PullError) as caught:
        ProbeConnector().stored_config({"address": "https://x.test"})
    assert "bind the source again" in caught.value.message


def test_stored_settings_are_validated_once_per_text_and_a_bad_one_fails_every_time() -> None:
    connector = ProbeConnector()
    first = connector.stored_config({"url": "https://a.test/x", "interval_seconds": 300})
    # The same settings in another key order are the same text: the same frozen object.
    assert connector.stored_config({"interval_seconds": 300, "url": "https://a.test/x"}) is first
    other = connector.stored_config({"url": "https://b.test/y", "interval_seconds": 300})
    assert (first.url, other.url) == ("https://a.test/x", "https://b.test/y")
    for _ in range(2):  # a failure is never kept as a success
        with pytest.raises(PullError):
            connector.stored_config({"url": "https://a.test/x", "address": "extra"})


def test_form_fields_come_from_the_config_model() -> None:
    fields = {f.name: f for f in ProbeConnector().form_fields(org_id=1, user_id=7)}
    assert list(fields) == ["interval_seconds", "url", "token"]
    assert (fields["url"].label, fields["url"].widget, fields["url"].required) == (
        "URL",
        "url",
        True,
    )
    assert (fields["token"].widget, fields["token"].secret, fields["token"].required) == (
        "password",
        True,
        False,
    )
    assert fields["interval_seconds"].widget == "number"


def test_a_config_with_two_secrets_is_refused_when_the_connector_is_declared() -> None:
    class TwoSecrets(ConnectorConfig):
        token: SecretStr
        password: SecretStr

    with pytest.raises(TypeError, match="several secrets"):

        class Broken(PullConnector[TwoSecrets]):  # type: ignore[type-var]
            kind: ClassVar[str] = "broken"
            label: ClassVar[str] = "Broken"
            summary: ClassVar[str] = ""
            config_model = TwoSecrets  # type: ignore[assignment]

            async def pull(self, context: PullContext, session: SafeSession) -> Observation:
                raise PullError("never")


def state(**changes: object) -> SourceState:
    values: dict[str, object] = {
        "kind": "probe",
        "config": {},
        "secret_hint": "",
        "interval_seconds": 900,
        "next_pull_at": None,
        "last_pulled_at": NOW - timedelta(minutes=3),
        "last_success_at": NOW - timedelta(minutes=3),
        "last_error": "",
        "last_error_at": None,
        "consecutive_failures": 0,
    }
    values.update(changes)
    return SourceState(**values)  # type: ignore[arg-type]


def test_a_healthy_pull_source_says_when_it_last_pulled() -> None:
    status = ProbeConnector().describe_status(state(), now=NOW)
    assert (status.summary, status.failing) == ("Probe", False)
    assert ("Every", "15m") in status.details
    assert ("Last pulled", "3 min ago") in status.details


def test_a_failing_pull_source_says_so_and_shows_the_error() -> None:
    status = ProbeConnector().describe_status(
        state(consecutive_failures=3, last_error="HTTP 503 from x.test"), now=NOW
    )
    assert (status.summary, status.failing) == ("Probe: failing", True)
    assert ("Last error", "HTTP 503 from x.test") in status.details
    assert ("Failed attempts in a row", "3") in status.details


@pytest.mark.parametrize(("secret", "hint"), [("whsec_abcdef", "cdef"), ("abc", "abc")])
def test_the_hint_is_the_last_four_characters(secret: str, hint: str) -> None:
    assert secret_hint(secret) == hint
