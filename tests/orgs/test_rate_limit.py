"""Per-token write limit: a fixed window counted in the database, 429 with Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from pydantic import ValidationError
from tests.api_client import ApiClient, api_token
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.config.env import Env
from pulseboard.orgs.models import ApiToken, ApiWriteWindow
from pulseboard.orgs.rate_limit import write_rate, write_slot_take
from pulseboard.orgs.rates import Rate

# 15 s into a minute window: Retry-After must say 45.
T0 = datetime.fromisoformat("2025-03-01T12:00:15+00:00")


@pytest.fixture
def three_per_minute(settings: Any) -> Iterator[None]:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "API_WRITE_RATE": "3/minute"}
    with time_machine.travel(T0, tick=False):
        yield


def test_default_rate_is_120_per_minute() -> None:
    assert write_rate() == Rate(limit=120, period_seconds=60)


@pytest.mark.django_db
@pytest.mark.usefixtures("three_per_minute")
def test_fourth_write_in_a_minute_is_429_with_retry_after() -> None:
    org = OrganizationFactory()
    kpi = KpiFactory(org=org)
    client = ApiClient.for_org(org)
    answers = [client.put(f"/kpis/{kpi.pk}/value", {"value": i}).status_code for i in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = client.put(f"/kpis/{kpi.pk}/value", {"value": 9})
    assert refused.status_code == 429 and refused["Retry-After"] == "45"
    assert "too many writes" in refused.json()["detail"]
    assert kpi.history.count() == 3


@pytest.mark.django_db
@pytest.mark.usefixtures("three_per_minute")
def test_reads_are_never_limited_and_tokens_are_counted_apart() -> None:
    org = OrganizationFactory()
    first, second = ApiClient.for_org(org), ApiClient.for_org(org)
    for _ in range(3):
        first.post("/parse-title", {"title": "NPS above 3"})
    assert first.post("/parse-title", {"title": "NPS above 3"}).status_code == 429
    assert [first.get("/kpis").status_code for _ in range(10)] == [200] * 10
    assert second.post("/parse-title", {"title": "NPS above 3"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("three_per_minute")
def test_invalid_writes_count_but_scope_refusals_do_not() -> None:
    org = OrganizationFactory()
    client = ApiClient.for_org(org)
    reader = ApiClient.for_org(org, "read")
    assert client.post("/kpis", {"title": ""}).status_code == 422
    assert [reader.post("/kpis", {}).status_code for _ in range(5)] == [403] * 5
    assert client.post("/kpis", {}).status_code == 422
    assert client.post("/kpis", {}).status_code == 422
    assert client.post("/kpis", {}).status_code == 429


@pytest.mark.django_db
def test_next_window_allows_writes_again(settings: Any) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "API_WRITE_RATE": "1/hour"}
    client = ApiClient.for_org(OrganizationFactory())
    with time_machine.travel(T0, tick=False) as clock:
        assert client.post("/parse-title", {"title": "x"}).status_code == 200
        refused = client.post("/parse-title", {"title": "x"})
        assert refused.status_code == 429 and refused["Retry-After"] == str(3600 - 15)
        clock.shift(timedelta(seconds=3600 - 15))
        assert client.post("/parse-title", {"title": "x"}).status_code == 200
    assert ApiWriteWindow.objects.count() == 1  # one row per token, reused


@pytest.mark.django_db
def test_unauthenticated_writes_are_401_not_counted() -> None:
    assert ApiClient("pb_wrong").post("/kpis", {}).status_code == 401
    assert not ApiWriteWindow.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_exceed_the_limit() -> None:
    token = ApiToken.objects.get(prefix=api_token(OrganizationFactory())[:9])
    rate = Rate(limit=25, period_seconds=3600)
    now = T0.timestamp()
    allowed: list[bool] = []
    lock = threading.Lock()

    def writer() -> None:
        try:
            for _ in range(10):
                ok = write_slot_take(token_id=token.pk, timestamp=now, rate=rate) is None
                with lock:
                    allowed.append(ok)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 60 and allowed.count(True) == 25
    assert ApiWriteWindow.objects.get(token=token).count == 25


@pytest.mark.parametrize("text", ["fast", "0/minute", "10/ms"])
def test_a_malformed_write_rate_stops_the_start_with_a_hint(text: str) -> None:
    with pytest.raises(ValidationError, match=r"120/minute|at least one"):
        Env(api_write_rate=text)
