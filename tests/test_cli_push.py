"""``pulseboard push`` against a live server: signs with standardwebhooks, prints the outcome,
exits non-zero with the server's message when the delivery is refused."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from tests.connectors.signing import bind_webhook
from tests.factories import KpiFactory

from pulseboard.cli import cli
from pulseboard.connectors.webhook import SIGNATURE_MISMATCH
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi

OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


@pytest.fixture
def kpi(transactional_db: None) -> Kpi:
    return KpiFactory()


@pytest.fixture
def url(kpi: Kpi, live_server: Any) -> str:
    return f"{live_server.url}/hooks/kpis/{kpi.pk}"


def push(*args: str) -> Any:
    return CliRunner().invoke(cli, ["push", *args])


def test_push_records_the_value_and_says_so(kpi: Kpi, url: str) -> None:
    result = push(url, "--secret", bind_webhook(kpi), "--value", "12.5")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("accepted: 12.5 observed at ")
    assert "recorded as the current value" in result.output
    kpi.refresh_from_db()
    assert kpi.current_value == 12.5


def test_push_sends_observed_at(kpi: Kpi, url: str) -> None:
    secret = bind_webhook(kpi)
    push(url, "--secret", secret, "--value", "5")
    earlier = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    result = push(url, "--secret", secret, "--value", "1", "--observed-at", earlier.isoformat())
    assert result.exit_code == 0, result.output
    assert "history only" in result.output
    assert KpiHistory.objects.get(kpi=kpi, value=1).observed_at == earlier


def test_push_with_the_same_id_twice_reports_a_replay(kpi: Kpi, url: str) -> None:
    secret = bind_webhook(kpi)
    assert push(url, "--secret", secret, "--value", "3", "--id", "msg_cli").exit_code == 0
    result = push(url, "--secret", secret, "--value", "3", "--id", "msg_cli")
    assert result.exit_code == 0
    assert "replay" in result.output
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1


def test_a_refused_push_exits_non_zero_with_the_servers_message(kpi: Kpi, url: str) -> None:
    bind_webhook(kpi)
    result = push(url, "--secret", OTHER_SECRET, "--value", "12.5")
    assert result.exit_code == 1
    assert f"rejected (401): {SIGNATURE_MISMATCH}" in result.output
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_a_push_the_server_finds_invalid_shows_its_422_message(kpi: Kpi, url: str) -> None:
    secret = bind_webhook(kpi)
    result = push(url, "--secret", secret, "--value", "1", "--observed-at", "yesterday")
    assert result.exit_code == 1
    assert "rejected (422): observed_at 'yesterday' is not ISO 8601" in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--secret", OTHER_SECRET, "--value", "nan"], "finite number"),
        (["--secret", OTHER_SECRET, "--value", "inf"], "finite number"),
        (["--secret", "hunter2", "--value", "1"], "whsec_"),
        (["--secret", "whsec_%%%", "--value", "1"], "not a valid whsec_"),
    ],
)
def test_push_refuses_bad_arguments_before_sending(args: list[str], says: str) -> None:
    # Refused before any connection is attempted: nothing listens at this address.
    result = push("http://127.0.0.1:9/hooks/kpis/x", *args)
    assert result.exit_code == 1
    assert says in result.output


def closed_port() -> int:
    """A loopback port this test held a moment ago and closed: nothing listens there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_push_to_nothing_listening_exits_non_zero() -> None:
    target = f"http://127.0.0.1:{closed_port()}/hooks/kpis/x"
    result = push(target, "--secret", OTHER_SECRET, "--value", "1")
    assert result.exit_code == 1
    assert "could not reach" in result.output


def test_push_refuses_a_url_without_http_scheme() -> None:
    result = push("ftp://127.0.0.1/x", "--secret", OTHER_SECRET, "--value", "1")
    assert result.exit_code == 1
    assert "http:// or https://" in result.output
