"""POST /values: up to 1,000 values at once, all or nothing, errors keyed by index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.history import services
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import BatchItem, values_record_batch
from pulseboard.indicators.models import Kpi

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 1, tzinfo=UTC)
ACTOR = Actor.system("test")


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def api(org: Any) -> ApiClient:
    return ApiClient.for_org(org)


@pytest.fixture
def kpis(org: Any) -> list[Any]:
    return [KpiFactory(org=org, shape="stay_above", threshold=10.0) for _ in range(3)]


def nothing_written() -> bool:
    return (
        not KpiHistory.objects.exists()
        and not AuditEvent.objects.filter(action="value.recorded").exists()
    )


def test_a_batch_records_each_value_like_a_single_write(api: ApiClient, kpis: list[Kpi]) -> None:
    a, b, c = kpis
    body = [
        {"kpi_id": a.pk, "value": 12.5},
        {"kpi_id": b.pk, "value": 3, "observed_at": "2025-01-01T00:00:00Z"},
        {"kpi_id": c.pk, "value": 11, "observed_at": "2025-01-01T02:00:00+02:00"},
    ]
    response = api.post("/values", body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["recorded"] == 3
    assert [(i["kpi_id"], i["value"], i["status"], i["applied"]) for i in data["items"]] == [
        (a.pk, 12.5, "green", True),
        (b.pk, 3.0, "red", True),
        (c.pk, 11.0, "green", True),
    ]
    assert data["items"][2]["observed_at"].startswith("2025-01-01T00:00:00")
    for kpi, value in ((a, 12.5), (b, 3.0), (c, 11.0)):
        kpi.refresh_from_db()
        assert kpi.current_value == value
        row = KpiHistory.objects.get(kpi=kpi)
        assert (row.value, row.source) == (value, "api")
    events = AuditEvent.objects.filter(action="value.recorded").order_by("id")
    assert [e.target_id for e in events] == [a.pk, b.pk, c.pk]
    assert all(e.actor_label.startswith("token:") for e in events)


def test_the_ordering_rule_holds_inside_a_batch(api: ApiClient, kpis: list[Kpi]) -> None:
    kpi = kpis[0]
    now = timezone.now()
    body = [
        {"kpi_id": kpi.pk, "value": 20, "observed_at": now.isoformat()},
        {"kpi_id": kpi.pk, "value": 5, "observed_at": (now - timedelta(hours=1)).isoformat()},
    ]
    data = api.post("/values", body).json()
    assert [item["applied"] for item in data["items"]] == [True, False]
    kpi.refresh_from_db()
    assert kpi.current_value == 20
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2


def test_errors_are_listed_by_index_and_nothing_is_written(api: ApiClient, kpis: list[Kpi]) -> None:
    a = kpis[0]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    body = [
        {"kpi_id": a.pk, "value": 1},
        {"kpi_id": "doesnotexist", "value": 1},
        {"kpi_id": a.pk, "value": 1, "observed_at": future},
        {"kpi_id": "not/an id", "value": 2},
    ]
    response = api.post("/values", body)
    assert response.status_code == 422
    data = response.json()
    assert data["detail"] == "3 of 4 items are invalid; nothing was recorded"
    assert data["errors"] == {
        "1.kpi_id": "no such KPI",
        "2.observed_at": "is more than 5 minutes in the future",
        "3.kpi_id": "no such KPI",
    }
    assert nothing_written()


def test_shape_errors_are_listed_by_index_too(api: ApiClient, kpis: list[Kpi]) -> None:
    a = kpis[0]
    body = [
        {"kpi_id": a.pk, "value": 1},
        {"kpi_id": a.pk, "value": "12"},
        {"kpi_id": a.pk, "value": 1, "observed_at": "2025-01-01T00:00:00"},
        {"kpi_id": a.pk},
        {"kpi_id": a.pk, "value": 1, "extra": True},
    ]
    response = api.post("/values", body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"1.value", "2.observed_at", "3.value", "4.extra"}
    assert nothing_written()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400"])
def test_non_finite_numbers_are_refused(api: ApiClient, kpis: list[Kpi], value: str) -> None:
    raw = f'[{{"kpi_id": "{kpis[0].pk}", "value": {value}}}]'.encode()
    response = api.send("POST", "/values", raw=raw)
    assert response.status_code in (400, 422)
    assert nothing_written()


def test_another_orgs_kpi_is_no_such_kpi_without_a_leak(api: ApiClient, kpis: list[Kpi]) -> None:
    theirs: Any = KpiFactory(org=OrganizationFactory())
    body = [{"kpi_id": kpis[0].pk, "value": 1}, {"kpi_id": theirs.pk, "value": 1}]
    response = api.post("/values", body)
    assert response.status_code == 422
    assert response.json()["errors"] == {"1.kpi_id": "no such KPI"}
    assert theirs.title not in response.content.decode()
    assert nothing_written()


@pytest.mark.parametrize(("count", "status"), [(0, 422), (1000, 200), (1001, 422)])
def test_one_to_a_thousand_items(api: ApiClient, kpis: list[Kpi], count: int, status: int) -> None:
    body = [
        {
            "kpi_id": kpis[n % 3].pk,
            "value": n,
            "observed_at": (T0 + timedelta(seconds=n)).isoformat(),
        }
        for n in range(count)
    ]
    response = api.post("/values", body)
    assert response.status_code == status, response.content[:300]
    assert KpiHistory.objects.count() == (count if status == 200 else 0)


def test_a_body_that_is_not_a_list_is_refused(api: ApiClient, kpis: list[Kpi]) -> None:
    response = api.post("/values", {"kpi_id": kpis[0].pk, "value": 1})
    assert response.status_code == 422
    assert nothing_written()


def test_read_tokens_get_403(org: Any, kpis: list[Kpi]) -> None:
    response = ApiClient.for_org(org, "read").post("/values", [{"kpi_id": kpis[0].pk, "value": 1}])
    assert response.status_code == 403
    assert nothing_written()


def test_a_write_failing_midway_rolls_back_the_ones_before(
    kpis: list[Kpi], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: the second KPI is deleted after the batch was checked, just before
    # its write (as a concurrent DELETE would); the first write must not survive.
    a, b, _ = kpis
    items = [BatchItem(kpi_id=a.pk, value=1.0), BatchItem(kpi_id=b.pk, value=2.0)]
    real = services.value_record

    def deleting_before_the_second(**kwargs: Any) -> Any:
        if kwargs["kpi"].pk == b.pk:
            Kpi.objects.filter(pk=b.pk).delete()
        return real(**kwargs)

    monkeypatch.setattr(services, "value_record", deleting_before_the_second)
    with pytest.raises(ValidationFailed) as caught:
        values_record_batch(org_id=a.org_id, items=items, actor=ACTOR, source="api")
    assert caught.value.errors == {"1.kpi_id": "no such KPI"}
    assert nothing_written()
    a.refresh_from_db()
    assert a.current_value is None


def test_a_batch_costs_two_lookups_then_four_queries_per_value(
    kpis: list[Kpi], django_assert_num_queries: Any
) -> None:
    # The KPIs and their scheduled targets once; then per value, as for a single write:
    # lock the KPI, insert the row, update the KPI, audit.
    # (+6: a status change row per transition, unknown -> red -> green for each KPI;
    # +2: the batch's transaction is a SAVEPOINT and RELEASE inside the test's own.)
    items = [BatchItem(kpi_id=kpis[n % 3].pk, value=float(n)) for n in range(20)]
    with django_assert_num_queries(2 + 4 * 20 + 6 + 2):
        values_record_batch(org_id=kpis[0].org_id, items=items, actor=ACTOR, source="api")
