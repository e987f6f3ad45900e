"""``GET /kpis/{id}/status-changes`` (DESIGN §12): a KPI's transitions, newest first, for any
token that may see the KPI; drafts hidden from read tokens, another org's KPI a 404, bad
bounds a 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.reevaluation import reevaluate_due
from pulseboard.orgs.models import Organization

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ACTOR = Actor.system("test")


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory()


@pytest.fixture
def kpi(org: Organization, clock: Any) -> Kpi:
    """Stay above 10: unknown -> green (value, NOW - 3 h), -> red (value, NOW - 2 h),
    -> green (value, NOW - 1 h), and a rule change at NOW (config)."""
    kpi = KpiFactory(org=org, shape="stay_above", threshold=10)
    for hours, value in ((3, 12.0), (2, 8.0), (1, 15.0)):
        value_record(
            kpi=kpi, value=value, observed_at=NOW - hours * HOUR, source="api", actor=ACTOR
        )
    StatusChange.objects.create(
        org=org, kpi=kpi, from_status="green", to_status="red", at=NOW, cause="config"
    )
    return kpi


def moments(body: list[dict[str, Any]]) -> list[tuple[str, str, datetime, str]]:
    return [
        (row["from"], row["to"], datetime.fromisoformat(row["at"]), row["cause"]) for row in body
    ]


def test_a_read_token_reads_the_changes_newest_first(org: Organization, kpi: Kpi) -> None:
    response = ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/status-changes")
    assert response.status_code == 200, response.content
    assert moments(response.json()) == [
        ("green", "red", NOW, "config"),
        ("red", "green", NOW - HOUR, "value"),
        ("green", "red", NOW - 2 * HOUR, "value"),
        ("unknown", "green", NOW - 3 * HOUR, "value"),
    ]


def test_since_until_and_limit_narrow_the_answer(org: Organization, kpi: Kpi) -> None:
    api = ApiClient.for_org(org, "admin")
    path = f"/kpis/{kpi.pk}/status-changes"
    # [10:00, 12:00): the since bound is inclusive, the until bound (NOW, in +01:00) is not.
    window = {"since": "2025-06-10T10:00:00Z", "until": "2025-06-10T13:00:00+01:00"}
    response = api.get(path, params=window)
    assert [row[2] for row in moments(response.json())] == [NOW - HOUR, NOW - 2 * HOUR]
    response = api.get(path, params={"limit": 1})
    assert moments(response.json()) == [("green", "red", NOW, "config")]


def test_a_time_transition_reads_back_with_cause_time(org: Organization, clock: Any) -> None:
    # Trend up against the value an hour back: 5 (NOW - 30 min) is red against 9; an hour
    # later 5 is its own baseline and turns green with no new value.
    rolling = KpiFactory(
        org=org,
        shape="trend",
        threshold=None,
        direction="up",
        baseline_mode="prior_period",
        baseline_period="1h",
    )
    for minutes, value in ((120, 9.0), (30, 5.0)):
        when = NOW - timedelta(minutes=minutes)
        value_record(kpi=rolling, value=value, observed_at=when, source="api", actor=ACTOR)
    later = NOW + HOUR
    clock.move_to(later)
    assert reevaluate_due(now=later).changed == 1
    body = ApiClient.for_org(org, "read").get(f"/kpis/{rolling.pk}/status-changes").json()
    assert moments(body)[:2] == [
        ("red", "green", later, "time"),
        (body[1]["from"], "red", NOW - timedelta(minutes=30), "value"),
    ]


def test_a_draft_is_hidden_from_a_read_token_but_not_from_an_admin_token(
    org: Organization, kpi: Kpi
) -> None:
    kpi.published = False
    kpi.save(update_fields=["published"])
    path = f"/kpis/{kpi.pk}/status-changes"
    assert ApiClient.for_org(org, "read").get(path).status_code == 404
    assert len(ApiClient.for_org(org, "admin").get(path).json()) == 4


def test_another_orgs_kpi_is_a_404(kpi: Kpi) -> None:
    other = ApiClient.for_org(OrganizationFactory(), "admin")
    response = other.get(f"/kpis/{kpi.pk}/status-changes")
    assert response.status_code == 404
    assert kpi.pk not in response.content.decode()


def test_an_unknown_kpi_is_a_404(org: Organization, clock: Any) -> None:
    api = ApiClient.for_org(org, "read")
    assert api.get("/kpis/nosuchkpi0000000/status-changes").status_code == 404
    assert api.get("/kpis/..%2F/status-changes").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "many"},
        {"since": "yesterday"},
        {"since": "2025-06-10T09:00:00"},  # no offset
        {"since": "2025-06-10T10:00:00Z", "until": "2025-06-10T09:00:00Z"},
        {"until": "9999-12-31T23:59:59-01:00"},
    ],
)
def test_bad_bounds_are_a_422(org: Organization, kpi: Kpi, params: dict[str, Any]) -> None:
    response = ApiClient.for_org(org, "read").get(f"/kpis/{kpi.pk}/status-changes", params=params)
    assert response.status_code == 422, response.content


def test_no_token_is_a_401(kpi: Kpi, client: Any) -> None:
    assert client.get(f"/api/v1/kpis/{kpi.pk}/status-changes").status_code == 401
