"""The prometheus connector against a real Prometheus (Debian's package) on 127.0.0.1.

The module starts ``/usr/bin/prometheus`` on a free loopback port with a throwaway config
that scrapes itself every second and a TSDB in a temporary directory, waits until ``up``
has a sample, and pulls with real PromQL through ``SafeSession``. Without the binary the
module is skipped with a clear line, except on CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import asyncio
import http.server
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.base import BindContext, PullContext, PullError, SecretSet
from pulseboard.connectors.models import Source
from pulseboard.connectors.prometheus import MAX_QUERY_BYTES, PrometheusConnector
from pulseboard.core.crypto import cipher
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import SafeFetchPolicy, SafeSession

PROMETHEUS = "/usr/bin/prometheus"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LOOPBACK_POLICY = SafeFetchPolicy(allow_private=(ipaddress.IPv4Network("127.0.0.1/32"),))
CONNECTOR = PrometheusConnector()
TOKEN = "prom-token-s3cr3t-9876"


def _prometheus_binary() -> str:
    found = PROMETHEUS if os.access(PROMETHEUS, os.X_OK) else shutil.which("prometheus")
    if found:
        return found
    message = f"prometheus leg SKIPPED: {PROMETHEUS} missing (apt-get install prometheus)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs a real Prometheus: {PROMETHEUS} missing")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _instant(base_url: str, query: str) -> Any:
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@contextmanager
def running_prometheus(directory: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Prometheus scraping itself on a free loopback port, ready once ``up`` has a sample."""
    binary = _prometheus_binary()
    port = _free_port()
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: self\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{port}']\n"
    )
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited: {(directory / 'prometheus.log').read_text()}"
                )
            try:
                if _instant(base_url, "up")["data"]["result"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus had no sample of 'up' within 60 s")
            time.sleep(0.2)
        yield base_url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as (base_url, _process):
        yield base_url


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A stand-in that is not Prometheus: answers every GET with ``body`` and notes headers."""

    body: bytes = b""
    status: int = 200
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({**dict(self.headers.items()), "path": self.path})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def stand_in(body: bytes, status: int = 200) -> Iterator[tuple[str, list[dict[str, str]]]]:
    handler: type[_Recorder] = type(
        "Handler", (_Recorder,), {"body": body, "status": status, "seen": []}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    finally:
        server.shutdown()
        server.server_close()


def context(base_url: str, query: str, secret: str | None = None) -> PullContext:
    return PullContext(
        source_id="src",
        org_id=1,
        kpi_id="kpi",
        kind="prometheus",
        config={"base_url": base_url, "query": query, "interval_seconds": 900},
        secret=secret,
        connection_id=None,
        now=NOW,
    )


def pull(pull_context: PullContext, policy: SafeFetchPolicy = LOOPBACK_POLICY) -> float:
    async def run() -> float:
        async with SafeSession(policy) as session:
            return (await CONNECTOR.pull(pull_context, session)).value

    return asyncio.run(run())


def pull_error(pull_context: PullContext, policy: SafeFetchPolicy = LOOPBACK_POLICY) -> str:
    with pytest.raises(PullError) as caught:
        pull(pull_context, policy)
    return caught.value.message


def allow_loopback() -> Any:
    return override_settings(
        PULSEBOARD={**settings.PULSEBOARD, "ALLOW_PRIVATE_CIDRS": "127.0.0.1/32"}
    )


def bind_context() -> BindContext:
    return BindContext(
        org_id=1,
        user_id=None,
        kpi_id="kpi",
        current_kind="manual",
        current_config={},
        has_secret=False,
        now=NOW,
    )


# --- pulling real PromQL ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sum(up)", 1.0),
        ("sum(up) + 1 > bool 0", 1.0),  # '+', '>' and spaces survive the query string
        ("sum(up) + 1", 2.0),
        ('up{job="self"}', 1.0),
        ("count(up) * 2.5", 2.5),
        ("2 * 3", 6.0),  # a scalar result
        ("scalar(sum(up)) - 3", -2.0),
    ],
)
def test_one_sample_is_the_value(prometheus: str, query: str, expected: float) -> None:
    assert pull(context(prometheus, query)) == expected


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ('{__name__=~"up|scrape_duration_seconds"}', 2),
        (
            'up or label_replace(vector(1), "k", "a", "", "")'
            ' or label_replace(vector(2), "k", "b", "", "")',
            3,
        ),
    ],
)
def test_several_series_ask_for_an_aggregation(prometheus: str, query: str, count: int) -> None:
    assert pull_error(context(prometheus, query)) == (
        f"the query returned {count} series; aggregate it, e.g. sum(...)"
    )


@pytest.mark.parametrize("query", ["vector(0) > 1", "pulseboard_no_such_metric_total"])
def test_no_series_is_a_readable_error(prometheus: str, query: str) -> None:
    assert pull_error(context(prometheus, query)).startswith("the query returned no series")


@pytest.mark.parametrize(("query", "shown"), [("0/0", "NaN"), ("1/0", "+Inf"), ("-1/0", "-Inf")])
def test_nan_and_infinity_are_refused(prometheus: str, query: str, shown: str) -> None:
    assert pull_error(context(prometheus, query)).startswith(
        f"the query result is {shown}, not a finite number"
    )


def test_a_bad_query_quotes_prometheus_own_error(prometheus: str) -> None:
    message = pull_error(context(prometheus, "sum(up"))
    assert message.startswith("Prometheus refused the query (bad_data): ")
    assert len(message) < 400


def test_a_range_vector_and_a_string_are_not_one_number(prometheus: str) -> None:
    assert "range vector" in pull_error(context(prometheus, "up[1m]"))
    assert pull_error(context(prometheus, '"text"')) == "the query returned a string, not a number"


def test_a_long_query_within_the_limit_is_sent_whole(prometheus: str) -> None:
    # Far longer than a URL may be when typed: the query travels as a parameter.
    query = "sum(up)" + " + 0" * 900
    assert len(query.encode()) <= MAX_QUERY_BYTES
    assert pull(context(prometheus, query)) == 1.0


def test_a_closed_port_is_a_readable_pull_failure() -> None:
    port = _free_port()
    message = pull_error(context(f"http://127.0.0.1:{port}", "sum(up)"))
    assert message == f"could not connect to 127.0.0.1:{port} (connection refused)"


def test_loopback_is_refused_at_pull_unless_the_operator_allows_it(prometheus: str) -> None:
    message = pull_error(context(prometheus, "sum(up)"), SafeFetchPolicy())
    assert message.startswith("URL refused: 127.0.0.1 is not a public address (loopback)")


# --- what is not Prometheus, and the token ------------------------------------------------


def test_the_token_is_sent_as_bearer_and_never_in_an_error() -> None:
    with stand_in(b'{"status":"error","errorType":"bad_data","error":"nope"}', 400) as (
        url,
        seen,
    ):
        message = pull_error(context(url, "sum(up)", secret=TOKEN))
    assert message == "Prometheus refused the query (bad_data): nope"
    (hit,) = seen
    assert hit["Authorization"] == f"Bearer {TOKEN}"
    split = urllib.parse.urlsplit(hit["path"])
    assert split.path == "/api/v1/query"
    assert urllib.parse.parse_qs(split.query) == {"query": ["sum(up)"]}
    assert TOKEN not in message


def test_a_non_json_answer_and_an_oversized_one_are_readable_errors() -> None:
    with stand_in(b"<html>hello</html>") as (url, _seen):
        assert pull_error(context(url, "sum(up)")) == (
            f"the answer from {url.removeprefix('http://')} is not JSON: "
            "is base_url a Prometheus server?"
        )
    with stand_in(b"[" + b"1," * (1024 * 1024) + b"1]") as (url, _seen):
        assert pull_error(context(url, "sum(up)")) == "response larger than 1 MiB"
    with stand_in(b"<html>gateway</html>", 502) as (url, _seen):
        assert pull_error(context(url, "sum(up)")) == "HTTP 502 from 127.0.0.1"
    with stand_in(b'{"status":"success","data":{"resultType":"vector","result":{}}}') as (
        url,
        _seen,
    ):
        assert pull_error(context(url, "sum(up)")) == "Prometheus answered with a malformed vector"


def test_an_error_text_is_truncated() -> None:
    long_error = "x" * 5000
    body = json.dumps({"status": "error", "errorType": "execution", "error": long_error})
    with stand_in(body.encode(), 422) as (url, _seen):
        message = pull_error(context(url, "sum(up)"))
    assert message.startswith("Prometheus refused the query (execution): xxx")
    assert message.endswith("…") and len(message) < 400


# --- binding ------------------------------------------------------------------------------


def test_binding_takes_the_token_out_of_the_config_and_accepts_http() -> None:
    with allow_loopback():
        binding = CONNECTOR.binding_validate(
            {"base_url": "http://127.0.0.1:9090/", "query": "sum(up)", "bearer_token": TOKEN},
            context=bind_context(),
        )
    assert binding.config == {"base_url": "http://127.0.0.1:9090", "query": "sum(up)"}
    assert binding.secret == SecretSet(TOKEN)
    assert binding.interval_seconds == 900


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({"base_url": "ftp://example.com", "query": "up"}, "base_url", "http and https"),
        ({"base_url": "http://example.com/?a=1", "query": "up"}, "base_url", "without ?query"),
        ({"base_url": "http://user:pw@example.com", "query": "up"}, "base_url", "user name"),
        ({"base_url": "http://example.com/api/v1/query", "query": "up"}, "base_url", "added"),
        ({"base_url": "http://example.com", "query": ""}, "query", "empty"),
        ({"base_url": "http://example.com", "query": "   "}, "query", "empty"),
        ({"base_url": "http://example.com", "query": "x" * 4097}, "query", "4 KiB"),
        ({"base_url": "http://example.com"}, "query", "required"),
        (
            {"base_url": "http://example.com", "query": "up", "bearer_token": "a b"},
            "bearer",
            "spaces",
        ),
    ],
)
def test_binding_refuses_bad_settings_naming_the_field(
    config: dict[str, str], field: str, fragment: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate(config, context=bind_context())
    assert any(name.startswith(field) for name in caught.value.errors), caught.value.errors
    assert fragment in caught.value.message
    assert "pw" not in caught.value.message


def test_binding_refuses_loopback_unless_the_operator_allows_it() -> None:
    with pytest.raises(ValidationFailed) as caught:
        CONNECTOR.binding_validate(
            {"base_url": "http://127.0.0.1:9090", "query": "up"}, context=bind_context()
        )
    assert caught.value.errors["base_url"] == "127.0.0.1 is not a public address (loopback)"


# --- the whole way: API bind, pulled, a stopped server keeps the last value ---------------


@pytest.mark.django_db
def test_bound_through_the_api_pulled_and_a_stopped_server_keeps_the_last_value(
    tmp_path: Path,
) -> None:
    org: Any = OrganizationFactory()
    kpi: Any = KpiFactory(org=org)
    api: Any = ApiClient.for_org(org)
    with running_prometheus(tmp_path) as (base_url, process), allow_loopback():
        config = {"base_url": base_url, "query": "sum(up)", "bearer_token": TOKEN}
        bound = api.put(f"/kpis/{kpi.pk}/source", {"kind": "prometheus", "config": config})
        assert bound.status_code == 200, bound.content
        first: Any = api.post(f"/kpis/{kpi.pk}/source/pull").json()
        assert first["ok"] is True and first["value"] == 1.0, first
        process.terminate()
        process.wait(timeout=10)
        second: Any = api.post(f"/kpis/{kpi.pk}/source/pull").json()
        read: Any = api.get(f"/kpis/{kpi.pk}/source").json()
    assert second["ok"] is False
    assert second["error"].startswith("could not connect to 127.0.0.1:"), second
    kpi.refresh_from_db()
    assert kpi.current_value == 1.0
    assert read["secret_hint"] == TOKEN[-4:]
    assert read["config"] == {"base_url": base_url, "query": "sum(up)"}
    source = Source.objects.get(kpi=kpi)
    assert TOKEN not in json.dumps(source.config) + source.secret_encrypted
    assert cipher().decrypt(source.secret_encrypted) == TOKEN
    for text in (bound.content.decode(), json.dumps(read), json.dumps(second)):
        assert TOKEN not in text
    for event in AuditEvent.objects.filter(target_id=kpi.pk):
        assert TOKEN not in json.dumps([event.before, event.after])
