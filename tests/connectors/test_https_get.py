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
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory
from tests.json_endpoint import Certificates, JsonEndpoint, Reply, StaticResolver, make_certificates

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.base import (
    BindContext,
    PullContext,
    PullError,
    SecretClear,
    SecretKeep,
    SecretSet,
    SourceState,
)
from pulseboard.connectors.https_get import (
    Credentials,
    HttpsGetConnector,
    credentials_of,
    credentials_text,
)
from pulseboard.connectors.models import Source
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.core.crypto import cipher
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


def bind_context(current_kind: str = "manual", current_secret: str | None = None) -> BindContext:
    saved = current_secret if current_secret is not None else "saved-token-1234"
    return BindContext(
        org_id=1,
        user_id=None,
        kpi_id="kpi",
        current_kind=current_kind,
        current_config={},
        has_secret=current_kind == "https_get",
        now=NOW,
        current_secret=saved if current_kind == "https_get" else None,
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
        ({"headerz": {"X": "1"}}, "headerz", "is not a setting of this connector"),
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


# --- extra headers (API-key style auth, DESIGN §14) ----------------------------------------

API_KEY = "k3y-0123456789-abcdef"


def with_headers(headers: dict[str, str], token: str | None = None) -> str:
    return credentials_text(Credentials(bearer_token=token, headers=headers))


def test_pull_sends_the_saved_headers_and_the_server_receives_them(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    endpoint.replies["/keyed"] = Reply(body=b'{"value": 7}')
    secret = with_headers({"X-Api-Key": API_KEY, "X-Tenant": "acme"}, token="tok-123")
    assert pull(context(endpoint.url("/keyed"), secret=secret), policy) == 7.0
    (hit,) = endpoint.hits["/keyed"]
    assert hit.headers["X-Api-Key"] == API_KEY
    assert hit.headers["X-Tenant"] == "acme"
    assert hit.authorization == "Bearer tok-123"
    assert hit.headers["Accept"] == "application/json"


def test_an_authorization_header_of_another_scheme_is_sent_as_given(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    endpoint.replies["/token-scheme"] = Reply(body=b'{"value": 1}')
    secret = with_headers({"Authorization": "Token abc123"})
    pull(context(endpoint.url("/token-scheme"), secret=secret), policy)
    assert [hit.authorization for hit in endpoint.hits["/token-scheme"]] == ["Token abc123"]


def test_headers_follow_a_same_origin_redirect_and_not_one_to_another_origin(
    endpoint: JsonEndpoint, policy: SafeFetchPolicy
) -> None:
    resolver = StaticResolver({"status.example.com": "127.0.0.1"})
    endpoint.replies["/same"] = Reply(status=302, headers={"Location": "/same-target"})
    endpoint.replies["/same-target"] = Reply(body=b'{"value": 2}')
    other = endpoint.url("/other-target", host="status.example.com")
    endpoint.replies["/other"] = Reply(status=302, headers={"Location": other})
    endpoint.replies["/other-target"] = Reply(body=b'{"value": 3}')
    secret = with_headers({"X-Api-Key": API_KEY}, token="tok-123")
    assert pull(context(endpoint.url("/same"), secret=secret), policy, resolver) == 2.0
    assert pull(context(endpoint.url("/other"), secret=secret), policy, resolver) == 3.0
    (same,) = endpoint.hits["/same-target"]
    assert same.headers.get("X-Api-Key") == API_KEY and same.authorization == "Bearer tok-123"
    (other_hit,) = endpoint.hits["/other-target"]
    assert "X-Api-Key" not in other_hit.headers and other_hit.authorization is None


def test_a_token_saved_before_headers_existed_still_reads_as_the_token() -> None:
    assert credentials_of("plain-token") == Credentials(bearer_token="plain-token")
    assert credentials_of(None) == Credentials()
    text = with_headers({"X-Api-Key": API_KEY})
    assert " " in text and credentials_of(text).headers == {"X-Api-Key": API_KEY}
    with pytest.raises(PullError, match="enter them again"):
        credentials_of("https_get-credentials/1 {broken")


def test_headers_go_into_the_encrypted_secret_and_only_names_and_hints_into_the_config() -> None:
    raw = {
        "url": "https://127.0.0.1:8443/api",
        "json_path": "$.v",
        "headers": {"X-Api-Key": API_KEY, "X-Team": "ops"},
    }
    with allow_loopback():
        binding = CONNECTOR.binding_validate(raw, context=bind_context())
    assert binding.config == {
        "url": "https://127.0.0.1:8443/api",
        "json_path": "$.v",
        "header_hints": {"X-Api-Key": "…cdef", "X-Team": "(set)"},
    }
    assert API_KEY not in json.dumps(binding.config) and "ops" not in json.dumps(binding.config)
    assert isinstance(binding.secret, SecretSet)
    assert credentials_of(binding.secret.value) == Credentials(
        headers={"X-Api-Key": API_KEY, "X-Team": "ops"}
    )
    assert binding.secret.hint == ""  # no bearer token: nothing for the token's hint
    assert API_KEY not in repr(binding)


def stored(headers: dict[str, str], token: str | None = "saved-token-1234") -> BindContext:
    return bind_context("https_get", current_secret=with_headers(headers, token=token))


@pytest.mark.parametrize(
    ("extra", "token", "headers"),
    [
        # Left out: the saved token and headers stay (the web form never sends headers).
        ({}, "saved-token-1234", {"X-Api-Key": API_KEY}),
        ({"bearer_token": "new-token-5678"}, "new-token-5678", {"X-Api-Key": API_KEY}),
        ({"bearer_token": ""}, None, {"X-Api-Key": API_KEY}),
        ({"headers": {}}, "saved-token-1234", {}),
        ({"headers": {"x-api-key": None}}, "saved-token-1234", {"x-api-key": API_KEY}),
        ({"headers": {"X-Api-Key": None, "X-Env": "prod"}}, "saved-token-1234", None),
        ({"headers": {"X-Other": "v2"}}, "saved-token-1234", {"X-Other": "v2"}),
        # Read back and sent again as it was: the hints are ignored, nothing changes.
        ({"header_hints": {"X-Api-Key": "…cdef"}}, "saved-token-1234", {"X-Api-Key": API_KEY}),
    ],
)
def test_a_save_keeps_what_it_leaves_out_and_null_keeps_one_header(
    extra: dict[str, object], token: str | None, headers: dict[str, str] | None
) -> None:
    raw = {"url": "https://127.0.0.1/x", "json_path": "$.v", **extra}
    with allow_loopback():
        binding = CONNECTOR.binding_validate(raw, context=stored({"X-Api-Key": API_KEY}))
    expected_headers = headers if headers is not None else {"X-Api-Key": API_KEY, "X-Env": "prod"}
    if isinstance(binding.secret, SecretKeep):
        assert (token, expected_headers) == ("saved-token-1234", {"X-Api-Key": API_KEY})
        return
    if isinstance(binding.secret, SecretClear):
        assert token is None and not expected_headers
        return
    assert isinstance(binding.secret, SecretSet)
    assert credentials_of(binding.secret.value) == Credentials(
        bearer_token=token, headers=expected_headers
    )
    if expected_headers:
        assert binding.secret.hint == (token[-4:] if token else "")
    else:
        assert binding.secret.hint is None  # the token alone: its own last characters


def test_removing_the_token_and_the_headers_clears_the_secret() -> None:
    raw = {"url": "https://127.0.0.1/x", "json_path": "$.v", "bearer_token": "", "headers": {}}
    with allow_loopback():
        binding = CONNECTOR.binding_validate(raw, context=stored({"X-Api-Key": API_KEY}))
    assert binding.secret == SecretClear()
    assert "header_hints" not in binding.config


def test_null_for_a_header_with_no_saved_value_is_refused() -> None:
    raw = {"url": "https://127.0.0.1/x", "json_path": "$.v", "headers": {"X-New": None}}
    with allow_loopback(), pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate(raw, context=bind_context())
    assert caught.value.errors == {"headers": "X-New has no saved value to keep; give its value"}


@pytest.mark.parametrize(
    ("raw", "current", "message"),
    [
        (
            {"bearer_token": "tok-1234", "headers": {"Authorization": "Token x"}},
            None,
            "an Authorization header and a bearer token cannot both be set",
        ),
        # The token saved earlier counts too.
        ({"headers": {"authorization": "Token x"}}, "saved", "cannot both be set"),
    ],
)
def test_an_authorization_header_with_a_bearer_token_is_refused(
    raw: dict[str, object], current: str | None, message: str
) -> None:
    config = {"url": "https://127.0.0.1/x", "json_path": "$.v", **raw}
    context = bind_context("https_get") if current else bind_context()
    with allow_loopback(), pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate(config, context=context)
    assert message in caught.value.errors["headers"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Host": "evil.example"}, "the header Host cannot be set"),
        ({"host": "evil.example"}, "the header host cannot be set"),
        ({"Connection": "close"}, "the header Connection cannot be set"),
        ({"Keep-Alive": "timeout=5"}, "cannot be set"),
        ({"Proxy-Authorization": "Basic eA=="}, "cannot be set"),
        ({"Proxy-Connection": "keep-alive"}, "cannot be set"),
        ({"TE": "trailers"}, "cannot be set"),
        ({"Trailer": "X"}, "cannot be set"),
        ({"Transfer-Encoding": "chunked"}, "cannot be set"),
        ({"Upgrade": "websocket"}, "cannot be set"),
        ({"Content-Length": "5"}, "cannot be set"),
        ({"X-Key\r\nX-Evil": "secretvalue"}, "is not valid: letters, digits"),
        ({"X Key": "secretvalue"}, "is not valid"),
        ({"X-Key:": "secretvalue"}, "is not valid"),
        ({"X-K\u00e9y": "secretvalue"}, "is not valid"),
        ({"": "secretvalue"}, "a header name is empty"),
        ({"X-" + "k" * 120: "secretvalue"}, "is longer than 100"),
        ({"X-Key": "secretvalue\r\nX-Evil: 1"}, "must be printable ASCII on one line"),
        ({"X-Key": "secretvalue\n"}, None),  # surrounding whitespace is trimmed: fine
        ({"X-Key": "secret\x00value"}, "must be printable ASCII on one line"),
        ({"X-Key": "secretvalue\u00e9"}, "must be printable ASCII on one line"),
        ({"X-Key": ""}, "not empty"),
        ({"X-Key": 42}, "must be text"),
        ({"X-Key": "secretvalue", "x-key": "secretvalue"}, "the header x-key is given twice"),
        ({f"X-H{n}": "secretvalue" for n in range(21)}, "at most 20 headers"),
        ({"X-A": "secretvalue" + "a" * 4100, "X-B": "secretvalue" + "b" * 4100}, "8 KiB"),
        ("X-Key: secretvalue", "must be an object of {name: value}"),
    ],
)
def test_unsafe_or_malformed_headers_are_refused_without_echoing_values(
    headers: object, message: str | None
) -> None:
    config = {"url": "https://127.0.0.1/x", "json_path": "$.v", "headers": headers}
    if message is None:
        with allow_loopback():
            CONNECTOR.binding_validate(config, context=bind_context())
        return
    with allow_loopback(), pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate(config, context=bind_context())
    assert message in caught.value.errors["headers"]
    assert "secretvalue" not in caught.value.message + repr(caught.value.errors)


def test_status_lists_header_names_with_hints_never_values() -> None:
    state = SourceState(
        kind="https_get",
        config={
            "url": "https://status.example.com/api",
            "json_path": "$.up",
            "header_hints": {"X-Api-Key": "…cdef", "X-Team": "(set)"},
        },
        secret_hint="",
        interval_seconds=300,
        next_pull_at=None,
        last_pulled_at=None,
        last_success_at=None,
        last_error="",
        last_error_at=None,
        consecutive_failures=0,
    )
    details = dict(CONNECTOR.describe_status(state, now=NOW).details)
    assert details["Headers"] == "X-Api-Key …cdef, X-Team (set)"
    assert "Bearer token" not in details


def test_the_web_form_has_no_header_inputs() -> None:
    names = [field.name for field in CONNECTOR.form_fields(org_id=1, user_id=None)]
    assert "headers" not in names and "header_hints" not in names
    assert {"url", "json_path", "bearer_token"} <= set(names)


# --- the whole way: API bind, stored encrypted, read back, pulled -------------------------


@pytest.mark.django_db
def test_headers_bound_through_the_api_are_encrypted_hidden_audited_without_values_and_sent(
    endpoint: JsonEndpoint, certificates: Certificates
) -> None:
    org = OrganizationFactory()
    kpi: Any = KpiFactory(org=org)
    api = ApiClient.for_org(org)
    endpoint.replies["/e2e-keyed"] = Reply(body=b'{"value": 42}')
    config = {
        "url": endpoint.url("/e2e-keyed"),
        "json_path": "$.value",
        "bearer_token": "tok-abcdef-123456",
        "headers": {"X-Api-Key": API_KEY},
    }
    with allow_loopback(CA_BUNDLE=certificates.ca_path):
        bound = api.put(f"/kpis/{kpi.pk}/source", {"kind": "https_get", "config": config})
        assert bound.status_code == 200, bound.content
        read = api.get(f"/kpis/{kpi.pk}/source").json()
        pulled = api.post(f"/kpis/{kpi.pk}/source/pull")
    assert read["config"]["header_hints"] == {"X-Api-Key": "…cdef"}
    assert read["secret_hint"] == "3456"
    assert {"label": "Headers", "value": "X-Api-Key …cdef"} in read["status"]["details"]
    for text in (bound.content.decode(), json.dumps(read)):
        assert API_KEY not in text and "tok-abcdef" not in text
    source = Source.objects.get(kpi=kpi)
    assert API_KEY not in source.secret_encrypted + json.dumps(source.config)
    assert credentials_of(cipher().decrypt(source.secret_encrypted)).headers == {
        "X-Api-Key": API_KEY
    }
    events = AuditEvent.objects.filter(target_id=kpi.pk)
    assert events.filter(action="source.bound").exists()
    for event in events:
        assert API_KEY not in json.dumps([event.before, event.after])
        assert source.secret_encrypted not in json.dumps([event.before, event.after])
    assert pulled.status_code == 200 and pulled.json()["ok"] is True, pulled.content
    (hit,) = endpoint.hits["/e2e-keyed"]
    assert hit.headers["X-Api-Key"] == API_KEY
    assert hit.authorization == "Bearer tok-abcdef-123456"

    # Saving again without the secrets (as the web form does) keeps both.
    with allow_loopback(CA_BUNDLE=certificates.ca_path):
        again = api.put(
            f"/kpis/{kpi.pk}/source",
            {"kind": "https_get", "config": {**read["config"], "interval_seconds": 600}},
        )
    assert again.status_code == 200, again.content
    source.refresh_from_db()
    assert credentials_of(cipher().decrypt(source.secret_encrypted)) == Credentials(
        bearer_token="tok-abcdef-123456", headers={"X-Api-Key": API_KEY}
    )
