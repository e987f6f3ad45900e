"""Concurrent deliveries to one KPI through the live endpoint.

PostgreSQL serialises them with row locks, SQLite with its single writer.

Runs on whichever database the suite runs on; ``make test`` runs it on both.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from tests.connectors.signing import bind_webhook, deliver
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import WebhookDelivery
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi

SENDERS = 50


class WideBacklogServer(ThreadedWSGIServer):
    # Django's test server queues 10 connections; 50 senders released at once overflow
    # that on a busy machine and the kernel resets some. A real deployment (gunicorn)
    # has a backlog of 2048.
    request_queue_size = 128


class WideBacklogThread(LiveServerThread):
    server_class = WideBacklogServer


@pytest.fixture
def server_url(transactional_db: None) -> Iterator[str]:
    thread = WideBacklogThread("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.fixture
def kpi(transactional_db: None) -> Kpi:
    return KpiFactory()


def send_all(count: int, send: Any) -> list[httpx.Response]:
    """Call ``send(i)`` for each i from ``count`` threads released at the same moment."""
    start = threading.Barrier(count)

    def one(index: int) -> httpx.Response:
        start.wait()
        return send(index)  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_50_concurrent_deliveries_leave_50_rows_and_the_latest_observation_current(
    kpi: Kpi, server_url: str
) -> None:
    secret = bind_webhook(kpi)
    url = f"{server_url}/hooks/kpis/{kpi.pk}"
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    order = list(range(SENDERS))
    random.Random(5).shuffle(order)  # the newest observation is not the last one sent

    def send(index: int) -> httpx.Response:
        number = order[index]
        observed = (base + timedelta(seconds=number)).isoformat()
        return deliver(url, secret, {"value": float(number), "observed_at": observed})

    responses = send_all(SENDERS, send)

    refused = [(r.status_code, r.text) for r in responses if r.status_code != 200]
    assert refused == []
    assert KpiHistory.objects.filter(kpi=kpi).count() == SENDERS
    assert WebhookDelivery.objects.filter(kpi=kpi).count() == SENDERS
    assert AuditEvent.objects.filter(action="value.recorded", target_id=kpi.pk).count() == SENDERS
    kpi.refresh_from_db()
    assert kpi.current_value == float(SENDERS - 1)
    assert kpi.observed_at == base + timedelta(seconds=SENDERS - 1)


def test_concurrent_deliveries_of_one_webhook_id_write_once(kpi: Kpi, server_url: str) -> None:
    secret = bind_webhook(kpi)
    url = f"{server_url}/hooks/kpis/{kpi.pk}"
    senders = 20

    def send(index: int) -> httpx.Response:
        return deliver(url, secret, {"value": 42.0}, msg_id="msg_retried")

    responses = send_all(senders, send)

    assert [r.status_code for r in responses] == [200] * senders
    assert sum(not r.json()["replay"] for r in responses) == 1
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1
    assert WebhookDelivery.objects.filter(kpi=kpi).count() == 1
    assert AuditEvent.objects.filter(action="value.recorded", target_id=kpi.pk).count() == 1
