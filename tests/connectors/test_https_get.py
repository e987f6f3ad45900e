"""The https_get connector against real HTTPS servers on 127.0.0.1 (trustme certificates).

No client is patched: pulls go through ``SafeSession`` to a server this module starts,
names are answered by an injected resolver, and settings come from ``override_settings``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver
from django.conf import settings
from django.test import override_settings
from tests.json_endpoint import Certificates, JsonEndpoint, Reply, StaticResolver, make_certificates

from pulseboard.connectors.base import (
    BindContext,
    PullContext,
    PullError,
    SecretClear,
    SecretKeep,
    SecretSet,
    SourceState,
)
from pulseboard.connectors.https_get import HttpsGetConnector
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import SafeFetchPolicy, SafeSession

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LOOPBACK = (ipaddress.IPv4Network("127.0.0.1/32"),)
CONNECTOR = HttpsGetConnector()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def endpoint(certificates: Certificates) -> Iterator[JsonEndpoint]:
    with JsonEndpoint(certificates.server) as server:
        yield server


@pytest.fixture(scope="module")
def untrusted_endpoint(certificates: Certificates) -> Iterator[JsonEndpoint]:
    with JsonEndpoint(certificates.untrusted_server) as server:
        yield server


@pytest.fixture
def policy(certificates: Certificates) -> SafeFetchPolicy:
    # Short deadlines keep the timeout cases quick; the rules are the production ones.
    return SafeFetchPolicy(
        allow_private=LOOPBACK, ca_bundle=certificates.ca_path, total_timeout=1.0
    )


def allow_loopback(**extra: str) -> Any:
    return override_settings(
        PULSEBOARD={**settings.PULSEBOARD, "ALLOW_PRIVATE_CIDRS": "127.0.0.1/32", **extra}
    )


def context(url: str, json_path: str = "$.value", secret: str | None = None) -> PullContext:
    return PullContext(
        source_id="src",
        org_id=1,
        kpi_id="kpi",
        kind="https_get",
        config={"url": url, "json_path": json_path, "interval_seconds": 900},
        secret=secret,
        connection_id=None,
        now=NOW,
    )


def pull(
    pull_context: PullContext,
    policy: SafeFetchPolicy,
    resolver: AbstractResolver | None = None,
) -> float:
    async def run() -> float:
        async with SafeSession(policy, resolver=resolver) as session:
            return (await CONNECTOR.pull(pull_context, session)).value

    return asyncio.run(run())


def pull_error(
    pull_context: PullContext,
    policy: SafeFetchPolicy,
    resolver: AbstractResolver | None = None,
) -> str:
    with pytest.raises(PullError) as caught:
        pull(pull_context, policy, resolver)
    return caught.value.message


def bind_context(current_kind: str = "manual") -> BindContext:
    return BindContext(
        org_id=1,
        user_id=None,
        kpi_id="kpi",
        current_kind=current_kind,
        current_config={},
        has_secret=current_kind == "https_get",
        now=NOW,
    )


# --- pulling: values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "json_path", "expected"),
    [
        ({"value": 12.5}, "$.value", 12.5),
        ({"data": {"metrics": {"uptime": "99.9%"}}}, "$.data.metrics.uptime", 99.9),
        ({"arr": "1,234.5"}, "$.arr", 1234.5),
        ({"revenue": "$1.2M"}, "$.revenue", 1_200_000.0),
        ({"healthy": True}, "$.healthy", 1.0),
        ({"healthy": False}, "$.healthy", 0.0),
        ({"items": [{"n": 3}, {"n": 4}]}, "$.items[1].n", 4.0),
        ({"weird key": -7}, "$['weird key']", -7.0),
        ([10, 20, 30], "$[-1]", 30.0),
    ],
)
def test_pull_reads_numbers_numeric_text_and_booleans_at_the_path(
    endpoint: JsonEndpoint,
    policy: SafeFetchPolicy,
    document: object,
    json_path: str,
    expected: float,
) -> None:
    path = f"/value/{abs(hash((json.dumps(document), json_path)))}"
    endpoint.replies[path] = Reply(body=json.dumps(document).encode())
    assert pull(context(endpoint.url(path), json_path), policy) == pytest.approx(expected)


def test_pull_sends_the_bearer_token_and_only_when_one_is_saved(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    endpoint.replies["/auth"] = Reply(body=b'{"value": 1}')
    pull(context(endpoint.url("/auth"), secret="s3cr3t-token"), policy)
    pull(context(endpoint.url("/auth")), policy)
    assert [hit.authorization for hit in endpoint.hits["/auth"]] == ["Bearer s3cr3t-token", None]


# --- pulling: readable errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "json_path", "message"),
    [
        (Reply(status=503, body=b"down"), "$.value", "HTTP 503 from 127.0.0.1"),
        (Reply(status=404, body=b"{}"), "$.value", "HTTP 404 from 127.0.0.1"),
        (Reply(status=401, body=b"{}"), "$.value", "HTTP 401 from 127.0.0.1"),
        (Reply(delay=3.0), "$.value", "timed out after 1 s"),
        (
            Reply(body=b'{"value": 1, "pad": "' + b"x" * 300 + b'"}', trickle=0.05),
            "$.value",
            "timed out after 1 s",
        ),
        (Reply(body=b"<html>oops</html>"), "$.value", "response is not JSON: "),
        (Reply(body=b""), "$.value", "response is empty, not JSON"),
        (Reply(body=b'{"data": {}}'), "$.data.uptime", "$.data.uptime matched nothing"),
        (Reply(body=b'{"value": "n/a"}'), "$.value", "value 'n/a' is not a number"),
        (Reply(body=b'{"value": null}'), "$.value", "value is null, not a number"),
        (Reply(body=b'{"value": {"a": 1}}'), "$.value", "value is an object, not a number"),
        (
            Reply(body=b'{"v": [1, 2]}'),
            "$.v[*]",
            "$.v[*] matched 2 values; it must select exactly one",
        ),
        (Reply(body=b'{"value": NaN}'), "$.value", "response is not JSON: "),
    ],
    ids=[
        "503",
        "404",
        "401",
        "timeout",
        "slow-body",
        "html",
        "empty",
        "path-miss",
        "not-a-number",
        "null",
        "object",
        "two-matches",
        "nan",
    ],
)
def test_pull_failure_is_a_readable_error(
    endpoint: JsonEndpoint,
    policy: SafeFetchPolicy,
    request: pytest.FixtureRequest,
    reply: Reply,
    json_path: str,
    message: str,
) -> None:
    path = f"/errors/{request.node.callspec.id}"
    endpoint.replies[path] = reply
    assert pull_error(context(endpoint.url(path), json_path), policy).startswith(message)


def test_body_over_the_cap_is_refused(endpoint: JsonEndpoint, policy: SafeFetchPolicy) -> None:
    endpoint.replies["/huge"] = Reply(body=b'{"value": "' + b"9" * (1024 * 1024) + b'"}')
    assert pull_error(context(endpoint.url("/huge")), policy) == "response larger than 1 MiB"


def test_error_names_the_host_as_typed_not_the_address_or_the_query(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    endpoint.replies["/status"] = Reply(status=503)
    resolver = StaticResolver({"status.example.com": "127.0.0.1"})
    url = endpoint.url("/status", host="status.example.com") + "?api_key=hunter2"
    message = pull_error(context(url), policy, resolver)
    assert message == "HTTP 503 from status.example.com"


def test_connection_refused_is_a_readable_error(policy: SafeFetchPolicy) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = pull_error(context(f"https://127.0.0.1:{port}/x"), policy)
    assert message == f"could not connect to 127.0.0.1:{port} (connection refused)"


def test_certificate_from_an_unknown_ca_is_refused(
    untrusted_endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    message = pull_error(context(untrusted_endpoint.url("/value")), policy)
    assert message.startswith("TLS error: ")
    assert "certificate" in message


# --- SSRF on every pull ------------------------------------------------------------------


def test_pull_refuses_a_loopback_url_when_private_networks_are_not_allowed(
    endpoint: JsonEndpoint, certificates: Certificates
) -> None:
    strict = SafeFetchPolicy(ca_bundle=certificates.ca_path, total_timeout=1.0)
    message = pull_error(context(endpoint.url("/ssrf-literal")), strict)
    assert message == "URL refused: 127.0.0.1 is not a public address (loopback)"
    assert endpoint.count("/ssrf-literal") == 0


def test_pull_resolves_again_and_refuses_a_name_that_now_points_inside(
    endpoint: JsonEndpoint, certificates: Certificates
) -> None:
    # Saved while the name was public; on this pull it answers with a loopback address.
    strict = SafeFetchPolicy(ca_bundle=certificates.ca_path, total_timeout=1.0)
    resolver = StaticResolver({"metrics.example.org": "127.0.0.1"})
    url = endpoint.url("/ssrf-rebind", host="metrics.example.org")
    message = pull_error(context(url), strict, resolver)
    assert message == (
        "URL refused: host 'metrics.example.org' resolves to 127.0.0.1, "
        "not a public address (loopback)"
    )
    assert endpoint.count("/ssrf-rebind") == 0


# --- private CAs from settings -----------------------------------------------------------


def test_ca_bundle_setting_makes_an_internal_ca_trusted(
    endpoint: JsonEndpoint, certificates: Certificates
) -> None:
    endpoint.replies["/internal-ca"] = Reply(body=b'{"value": "42"}')
    pull_context = context(endpoint.url("/internal-ca"))
    with allow_loopback():
        assert "TLS error" in pull_error(pull_context, fetch_policy())
    with allow_loopback(CA_BUNDLE=certificates.ca_path):
        assert pull(pull_context, fetch_policy()) == 42.0


# --- binding: validated on save ---------------------------------------------------------


def test_binding_stores_url_and_path_and_takes_the_token_out_of_the_json() -> None:
    raw = {
        "url": "https://127.0.0.1:8443/api/status?x=1",
        "json_path": "$.data.uptime",
        "bearer_token": "Bearer abc.DEF-123",
        "interval_seconds": "15m",
    }
    with allow_loopback():
        binding = CONNECTOR.binding_validate(raw, context=bind_context())
    assert binding.config == {
        "url": "https://127.0.0.1:8443/api/status?x=1",
        "json_path": "$.data.uptime",
    }
    assert binding.secret == SecretSet("abc.DEF-123")
    assert binding.interval_seconds == 900
    assert "abc.DEF" not in json.dumps(binding.config)


@pytest.mark.parametrize(
    ("extra", "interval", "secret"),
    [
        ({}, 900, SecretKeep()),
        ({"interval_seconds": 60}, 60, SecretKeep()),
        ({"interval_seconds": "3600"}, 3600, SecretKeep()),
        ({"interval_seconds": "1h", "bearer_token": ""}, 3600, SecretClear()),
        ({"bearer_token": None}, 900, SecretKeep()),
    ],
)
def test_rebinding_keeps_the_saved_token_unless_cleared_and_defaults_to_15_minutes(
    extra: dict[str, object], interval: int, secret: object
) -> None:
    raw = {"url": "https://127.0.0.1/x", "json_path": "$.v", **extra}
    with allow_loopback():
        binding = CONNECTOR.binding_validate(raw, context=bind_context("https_get"))
    assert binding.interval_seconds == interval
    assert binding.secret == secret


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"url": "http://127.0.0.1/x"}, "url", "only https URLs are allowed"),
        ({"url": "https://user:pw@127.0.0.1/x"}, "url", "must not contain a user name"),
        ({"url": "https://localhost/x"}, "url", "is a reserved name"),
        ({"url": "https://metadata.google.internal/x"}, "url", "is a reserved name"),
        ({"url": "https://10.1.2.3/x"}, "url", "10.1.2.3 is not a public address (private)"),
        ({"url": "https://169.254.169.254/x"}, "url", "cloud metadata"),
        ({"url": "https://[::1]/x"}, "url", "::1 is not a public address (loopback)"),
        ({"url": "https://0x7f.1/x"}, "url", "non-canonical form of 127.0.0.1"),
        ({"url": ""}, "url", "the URL is empty"),
        ({"url": 42}, "url", "string"),
        ({"json_path": "value"}, "json_path", "invalid JSONPath"),
        ({"json_path": ""}, "json_path", "the JSONPath is empty"),
        ({"json_path": "$.a | $.b"}, "json_path", "invalid JSONPath"),
        ({"interval_seconds": 59}, "interval_seconds", "at least 60 seconds"),
        ({"interval_seconds": "30s"}, "interval_seconds", "at least 60 seconds"),
        ({"interval_seconds": "1 fortnight"}, "interval_seconds", "unknown duration unit"),
        ({"interval_seconds": 8 * 24 * 3600}, "interval_seconds", "at most"),
        ({"bearer_token": "two secretvalue"}, "bearer_token", "printable ASCII without spaces"),
        ({"bearer_token": "secretvalue\r\nX-Evil: 1"}, "bearer_token", "printable ASCII"),
        ({"headers": {"X": "1"}}, "headers", "is not a setting of this connector"),
    ],
)
def test_binding_refuses_bad_settings_naming_the_field(
    raw: dict[str, object], field: str, message: str
) -> None:
    config = {"url": "https://127.0.0.1/ok", "json_path": "$.value", **raw}
    # Loopback is NOT allowed here: the SSRF rules apply to the saved URL as they are.
    with pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate(config, context=bind_context())
    assert field in caught.value.errors
    assert message in caught.value.errors[field]
    assert "secretvalue" not in caught.value.message + repr(caught.value.errors)


def test_binding_refuses_loopback_unless_the_operator_allows_it() -> None:
    raw = {"url": "https://127.0.0.1:9/x", "json_path": "$.value"}
    with pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate(raw, context=bind_context())
    assert caught.value.errors == {"url": "127.0.0.1 is not a public address (loopback)"}
    with allow_loopback():
        assert CONNECTOR.binding_validate(raw, context=bind_context()).config["url"] == raw["url"]


def test_missing_url_and_path_are_both_reported() -> None:
    with pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate({}, context=bind_context())
    assert set(caught.value.errors) == {"url", "json_path"}


def test_status_shows_where_it_reads_without_the_query_string() -> None:
    state = SourceState(
        kind="https_get",
        config={"url": "https://status.example.com/api?key=hunter2", "json_path": "$.up"},
        secret_hint="ab12",
        interval_seconds=300,
        next_pull_at=None,
        last_pulled_at=None,
        last_success_at=None,
        last_error="",
        last_error_at=None,
        consecutive_failures=0,
    )
    status = CONNECTOR.describe_status(state, now=NOW)
    details = dict(status.details)
    assert details["URL"] == "https://status.example.com/api?…"
    assert details["JSONPath"] == "$.up"
    assert details["Bearer token"] == "…ab12"
    assert details["Every"] == "5m"
    assert "hunter2" not in repr(status)
