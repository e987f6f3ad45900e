"""History endpoint: ranges, JSON and CSV, streamed; tenancy and drafts."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.history.models import KpiHistory

pytestmark = pytest.mark.django_db
T0 = datetime.fromisoformat("2025-03-01T00:00:00+00:00")


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def kpi(org: Any) -> Any:
    kpi = KpiFactory(org=org)
    KpiHistory.objects.bulk_create(
        KpiHistory(
            org=org,
            kpi=kpi,
            value=float(day),
            observed_at=T0 + timedelta(days=day),
            recorded_at=T0 + timedelta(days=day),
            status="green",
            source="api",
        )
        for day in range(10)
    )
    return kpi


def _body(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def test_json_history_is_streamed_oldest_first(org: Any, kpi: Any) -> None:
    response = ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/history")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = json.loads(_body(response))
    assert body["kpi_id"] == kpi.pk
    assert [row["value"] for row in body["history"]] == [float(d) for d in range(10)]
    first = body["history"][0]
    assert set(first) == {"observed_at", "value", "status", "source", "recorded_at"}
    assert datetime.fromisoformat(first["observed_at"]) == T0


def test_csv_history_has_header_and_one_line_per_row(org: Any, kpi: Any) -> None:
    response = ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/history", {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert f"kpi-{kpi.pk}-history.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(_body(response))))
    assert rows[0] == ["observed_at", "value", "status", "source", "recorded_at"]
    assert [float(r[1]) for r in rows[1:]] == [float(d) for d in range(10)]


@pytest.mark.parametrize(
    ("params", "values"),
    [
        ({"since": "2025-03-03T00:00:00Z"}, [2, 3, 4, 5, 6, 7, 8, 9]),
        ({"until": "2025-03-03T00:00:00Z"}, [0, 1]),
        ({"since": "2025-03-03T00:00:00Z", "until": "2025-03-05T00:00:00Z"}, [2, 3]),
        ({"since": "2025-03-03T01:00:00+01:00", "until": "2025-03-03T01:00:00+01:00"}, []),
        ({"since": "2025-03-02T23:00:00-01:00"}, [2, 3, 4, 5, 6, 7, 8, 9]),
        ({"since": "2030-01-01T00:00:00Z"}, []),
    ],
)
def test_since_is_inclusive_and_until_exclusive_in_any_zone(
    org: Any, kpi: Any, params: dict[str, str], values: list[int]
) -> None:
    response = ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/history", params)
    assert [row["value"] for row in json.loads(_body(response))["history"]] == values


@pytest.mark.parametrize(
    "params",
    [
        {"format": "xml"},
        {"since": "yesterday"},
        {"since": "1735689600"},
        {"since": "2025-03-03T00:00:00"},
        {"since": "2025-03-05T00:00:00Z", "until": "2025-03-03T00:00:00Z"},
        {"until": "9999-12-31T23:59:59-01:00"},
    ],
)
def test_bad_range_or_format_is_422_with_detail(org: Any, kpi: Any, params: dict[str, str]) -> None:
    response = ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/history", params)
    assert response.status_code == 422
    assert response.json()["detail"] and response.json()["errors"]


def test_history_of_other_orgs_kpi_is_404(kpi: Any) -> None:
    response = ApiClient.for_org(OrganizationFactory(), "admin").get(f"/kpis/{kpi.pk}/history")
    assert response.status_code == 404 and response.json() == {"detail": "KPI not found"}


def test_history_of_draft_is_404_for_read_token(org: Any, kpi: Any) -> None:
    kpi.published = False
    kpi.save()
    assert ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/history").status_code == 404
    assert ApiClient.for_org(org, "admin").get(f"/kpis/{kpi.pk}/history").status_code == 200


def test_history_without_token_is_401(kpi: Any) -> None:
    assert ApiClient(None).get(f"/kpis/{kpi.pk}/history").status_code == 401


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_large_export_arrives_in_many_chunks_and_complete(org: Any, fmt: str) -> None:
    kpi = KpiFactory(org=org)
    count = 5000
    KpiHistory.objects.bulk_create(
        (
            KpiHistory(
                org=org,
                kpi=kpi,
                value=i / 7,
                observed_at=T0 + timedelta(minutes=i),
                recorded_at=T0,
                status="green",
                source="api",
            )
            for i in range(count)
        ),
        batch_size=1000,
    )
    response = ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/history", {"format": fmt})
    assert isinstance(response, StreamingHttpResponse)
    chunks = list(response.streaming_content)
    assert len(chunks) > 5  # written as it is read, not built in one piece
    text = b"".join(chunks).decode()
    if fmt == "csv":
        values = [float(r[1]) for r in list(csv.reader(io.StringIO(text)))[1:]]
    else:
        values = [row["value"] for row in json.loads(text)["history"]]
    assert values == [i / 7 for i in range(count)]
