"""Ops endpoints: liveness without the database, readiness with it, Prometheus metrics."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from tests.factories import KpiFactory

from pulseboard.core.metrics import record_pull, record_webhook
from pulseboard.ops.metrics import multiprocess_registry

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_healthz_answers_without_touching_the_database(client: Client) -> None:
    # No db fixture: pytest-django fails any query, so a 200 proves no query ran.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_answers(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.fixture
def database_down(transactional_db: None) -> Iterator[None]:
    """Point the default connection at a place no database answers, then restore it."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/pulseboard/down.sqlite3"
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        connection.settings_dict["HOST"] = "127.0.0.1"
        connection.settings_dict["PORT"] = str(closed_port)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def test_readyz_answers_503_when_the_database_is_unreachable(
    client: Client, database_down: None
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "detail": "the database is not reachable"}


def test_metrics_still_answer_with_database_down_and_say_so(
    client: Client, database_down: None
) -> None:
    text = scrape(client)
    assert value(text, "pulseboard_database_up") == 0
    assert "pulseboard_pull_sources_due" not in text


@pytest.mark.django_db
def test_metrics_count_pulls_by_kind_and_outcome_with_latency(client: Client) -> None:
    before = scrape(client)
    record_pull(kind="https_get", ok=True, seconds=0.2)
    record_pull(kind="https_get", ok=False, seconds=3.0)
    record_pull(kind="https_get", ok=False, seconds=0.01)
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("pulseboard_pulls_total", kind="https_get", outcome="ok") == 1
    assert delta("pulseboard_pulls_total", kind="https_get", outcome="error") == 2
    assert delta("pulseboard_pull_duration_seconds_count", kind="https_get") == 3
    assert delta("pulseboard_pull_duration_seconds_bucket", kind="https_get", le="0.25") == 2
    assert delta("pulseboard_pull_duration_seconds_sum", kind="https_get") == pytest.approx(3.21)


@pytest.mark.django_db
def test_metrics_count_webhook_outcomes_and_fold_unknown_ones_into_other(client: Client) -> None:
    before = scrape(client)
    record_webhook("accepted")
    record_webhook("accepted")
    record_webhook("unauthorized")
    record_webhook("made-up outcome")
    after = scrape(client)
    for outcome, expected in (("accepted", 2), ("unauthorized", 1), ("other", 1)):
        name = "pulseboard_webhook_deliveries_total"
        assert (
            value(after, name, outcome=outcome) - value(before, name, outcome=outcome) == expected
        )
    assert "made-up outcome" not in after


@pytest.mark.django_db
def test_metrics_time_requests_by_route_name_not_raw_path(client: Client) -> None:
    client.get("/healthz")
    client.get("/no/such/page/zq-raw-path")
    text = scrape(client)
    assert (
        value(
            text,
            "pulseboard_http_request_duration_seconds_count",
            method="GET",
            view="healthz",
            status="200",
        )
        >= 1
    )
    assert (
        value(
            text,
            "pulseboard_http_request_duration_seconds_count",
            method="GET",
            view="unmatched",
            status="404",
        )
        >= 1
    )
    # A segment no number in the exposition can contain (digits could, by chance).
    assert "zq-raw-path" not in text


@pytest.mark.django_db
def test_metrics_show_due_sources_and_lag_of_the_oldest_unclaimed_one(client: Client) -> None:
    overdue = KpiFactory(source="https_get").source
    overdue.next_pull_at = NOW - timedelta(seconds=90)
    overdue.save()
    newer = KpiFactory(source="https_get").source
    newer.next_pull_at = NOW - timedelta(seconds=10)
    newer.consecutive_failures = 2
    newer.save()
    claimed = KpiFactory(source="https_get").source
    claimed.next_pull_at = NOW - timedelta(seconds=600)
    claimed.leased_until = NOW + timedelta(seconds=30)
    claimed.save()
    later = KpiFactory(source="https_get").source
    later.next_pull_at = NOW + timedelta(seconds=60)
    later.save()
    KpiFactory()  # manual sources are not pull sources

    with time_machine.travel(NOW, tick=False):
        text = scrape(client)

    assert value(text, "pulseboard_database_up") == 1
    assert value(text, "pulseboard_pull_sources", kind="https_get") == 4
    assert value(text, "pulseboard_pull_sources_failing", kind="https_get") == 1
    assert value(text, "pulseboard_pull_sources_due", kind="https_get") == 2
    assert value(text, "pulseboard_due_source_lag_seconds", kind="https_get") == 90
    assert value(text, "pulseboard_due_source_lag_seconds", kind="sheets") == 0


def test_multiprocess_mode_sums_what_every_process_counted(tmp_path: Path) -> None:
    script = (
        "import django, sys\n"
        "django.setup()\n"
        "from pathlib import Path\n"
        "from pulseboard.core import metrics\n"
        "metrics.enable_multiprocess(Path(sys.argv[1])) if sys.argv[2] == 'first' else None\n"
        "metrics.record_pull(kind='sheets', ok=True, seconds=0.5)\n"
        "metrics.record_webhook('replayed')\n"
    )
    metrics_dir = tmp_path / "metrics"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pulseboard.config.settings",
        "PULSEBOARD_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT / "src"),
    }
    # The first process switches the mode (as `serve` does); the second inherits it
    # through the environment, like the worker child of `serve`.
    subprocess.run([sys.executable, "-c", script, str(metrics_dir), "first"], env=env, check=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    subprocess.run([sys.executable, "-c", script, str(metrics_dir), "second"], env=env, check=True)

    registry = multiprocess_registry(metrics_dir)
    assert (
        registry.get_sample_value("pulseboard_pulls_total", {"kind": "sheets", "outcome": "ok"})
        == 2
    )
    assert (
        registry.get_sample_value("pulseboard_webhook_deliveries_total", {"outcome": "replayed"})
        == 2
    )
    assert (
        registry.get_sample_value("pulseboard_pull_duration_seconds_count", {"kind": "sheets"}) == 2
    )


# --- PULSEBOARD_METRICS_TOKEN ------------------------------------------------------------

METRICS_TOKEN = "scrape-me-0123456789abcdef"


@pytest.fixture
def metrics_token(settings: Any) -> str:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "METRICS_TOKEN": METRICS_TOKEN}
    return METRICS_TOKEN


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        f"Basic {METRICS_TOKEN}",
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
        "Bearer ünïcode",
    ],
)
def test_with_a_metrics_token_other_callers_get_401(
    client: Client, metrics_token: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "pulseboard_" not in response.content.decode()


@pytest.mark.django_db
def test_with_a_metrics_token_the_bearer_gets_the_metrics(
    client: Client, metrics_token: str
) -> None:
    response = client.get("/metrics", headers={"Authorization": f"bearer {metrics_token}"})
    assert response.status_code == 200
    assert "pulseboard_" in response.content.decode()


@pytest.mark.django_db
def test_without_a_metrics_token_metrics_stay_open(client: Client) -> None:
    assert client.get("/metrics").status_code == 200


def test_the_token_is_compared_in_constant_time(
    client: Client, metrics_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert compared == [(b"guess", metrics_token.encode())]
