"""GET/PUT /kpis/{id}/targets (DESIGN §13): the schedule, its validation, scopes, tenancy,
audit, and what a new schedule does to status, reevaluate_at and the target phrase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi, StatusChange, TargetEntry

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)
ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def admin(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "admin")


@pytest.fixture
def reader(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "read")


@pytest.fixture
def latency(org: Any) -> Kpi:
    kpi = KpiFactory(
        org=org,
        title="p95 latency",
        shape="stay_below",
        threshold=500.0,
        unit_type="time",
        unit_label="ms",
        display_format="integer",
    )
    value_record(
        kpi=kpi, value=450.0, observed_at=NOW - timedelta(hours=1), source="api", actor=ACTOR
    )
    kpi.refresh_from_db()
    return kpi


def path(kpi: Kpi) -> str:
    return f"/kpis/{kpi.pk}/targets"


JAN = "2027-01-01T00:00:00Z"
SCHEDULE = [
    {"effective_from": JAN, "threshold": 400},
    {"effective_from": "2027-02-01T00:00:00+01:00", "threshold": 300, "warn_at": 250},
]


def test_put_replaces_the_schedule_and_get_reads_it_back_oldest_first(
    admin: ApiClient, reader: ApiClient, latency: Kpi
) -> None:
    response = admin.put(path(latency), list(reversed(SCHEDULE)))
    assert response.status_code == 200, response.json()
    body = reader.get(path(latency)).json()
    assert body == response.json()
    assert [entry["effective_from"] for entry in body] == [
        "2027-01-01T00:00:00Z",
        "2027-01-31T23:00:00Z",
    ]
    assert body[1] == {
        "effective_from": "2027-01-31T23:00:00Z",
        "threshold": 300.0,
        "lower": None,
        "upper": None,
        "baseline": None,
        "warn_at": 250.0,
        "warn_margin": None,
        "in_force": False,
    }
    # A second PUT replaces, it does not add.
    assert admin.put(path(latency), SCHEDULE[:1]).status_code == 200
    assert TargetEntry.objects.filter(kpi=latency).count() == 1
    assert admin.put(path(latency), []).json() == []
    assert not TargetEntry.objects.filter(kpi=latency).exists()


def test_the_target_phrase_shows_the_target_in_force_and_the_next_change(
    admin: ApiClient, latency: Kpi
) -> None:
    admin.put(path(latency), SCHEDULE)
    kpi = admin.get(f"/kpis/{latency.pk}").json()
    assert kpi["target_phrase"] == "stay below 500 ms · 400 ms from Jan 1, 2027"
    # The KPI's own fields stay its own parameters; the schedule is separate.
    assert kpi["threshold"] == 500.0


def test_the_put_is_audited_with_before_and_after(admin: ApiClient, latency: Kpi) -> None:
    admin.put(path(latency), SCHEDULE[:1])
    admin.put(path(latency), SCHEDULE)
    events = AuditEvent.objects.filter(action="kpi.targets_changed", target_id=latency.pk)
    assert events.count() == 2
    newest = events.order_by("-id").first()
    assert newest is not None
    assert [e["threshold"] for e in newest.before["targets"]] == [400.0]
    assert [e["threshold"] for e in newest.after["targets"]] == [400.0, 300.0]
    # The same schedule again changes nothing and records nothing.
    admin.put(path(latency), SCHEDULE)
    assert events.count() == 2


def test_an_entry_in_force_now_rejudges_the_current_value_with_cause_config(
    admin: ApiClient, latency: Kpi
) -> None:
    assert latency.status == "green"
    past = [{"effective_from": "2026-12-01T00:00:00Z", "threshold": 400}]
    body = admin.put(path(latency), past).json()
    assert body[0]["in_force"] is True
    latency.refresh_from_db()
    assert latency.status == "red"
    change = StatusChange.objects.get(kpi=latency, to_status="red")
    assert (change.from_status, change.cause, change.at) == ("green", "config", NOW)
    assert admin.get(f"/kpis/{latency.pk}").json()["target_phrase"] == "stay below 400 ms"


def test_a_future_entry_sets_reevaluate_at_to_when_it_comes_into_force(
    admin: ApiClient, latency: Kpi
) -> None:
    admin.put(path(latency), SCHEDULE)
    latency.refresh_from_db()
    assert latency.status == "green"
    assert latency.reevaluate_at == datetime(2027, 1, 1, tzinfo=UTC)


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.content
    return dict(response.json()["errors"])


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (
            [
                SCHEDULE[0],
                {"effective_from": "2027-03-01T00:00:00Z", "threshold": 300, "warn_at": 350},
            ],
            "1.warn_at",
            "below the ceiling",
        ),
        ([SCHEDULE[0], {"effective_from": JAN, "threshold": 1}], "1.effective_from", "entry 0"),
        ([{"effective_from": JAN}], "0.threshold", "required"),
        ([{"effective_from": JAN, "lower": 1, "upper": 2}], "0.lower", "does not apply"),
        ([{"effective_from": "2027-01-01T00:00:00", "threshold": 1}], "0.effective_from", "zone"),
        ([{"effective_from": JAN, "threshold": "400"}], "0.threshold", "number"),
        ([{"effective_from": JAN, "threshold": 1, "shape": "stay_above"}], "0.shape", "xtra"),
        ([{"threshold": 1}], "0.effective_from", "required"),
    ],
)
def test_a_bad_entry_is_a_422_naming_index_and_field_and_nothing_is_written(
    admin: ApiClient, latency: Kpi, body: Any, field: str, says: str
) -> None:
    admin.put(path(latency), SCHEDULE)
    before = list(
        TargetEntry.objects.filter(kpi=latency).values_list("effective_from", "threshold")
    )
    events = AuditEvent.objects.count()
    errors = errors_of(admin.put(path(latency), body))
    assert field in errors, errors
    assert says in errors[field]
    after = list(TargetEntry.objects.filter(kpi=latency).values_list("effective_from", "threshold"))
    assert after == before
    assert AuditEvent.objects.count() == events


def test_lower_above_upper_is_refused_for_stay_between(admin: ApiClient, org: Any) -> None:
    band = KpiFactory(org=org, shape="stay_between", threshold=None, lower=3.0, upper=7.0)
    errors = errors_of(admin.put(path(band), [{"effective_from": JAN, "lower": 8, "upper": 4}]))
    assert errors == {"0.upper": "upper must be >= lower"}


def test_more_than_100_entries_and_a_body_that_is_no_list_are_refused(
    admin: ApiClient, latency: Kpi
) -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    many = [
        {"effective_from": (start + timedelta(days=n)).isoformat(), "threshold": 1}
        for n in range(101)
    ]
    assert errors_of(admin.put(path(latency), many)) == {
        "targets": "at most 100 entries; this schedule has 101"
    }
    assert admin.put(path(latency), {"effective_from": JAN}).status_code == 422
    assert admin.put(path(latency), many[:100]).status_code == 200


def test_read_tokens_read_but_cannot_write(reader: ApiClient, latency: Kpi) -> None:
    assert reader.get(path(latency)).status_code == 200
    response = reader.put(path(latency), SCHEDULE)
    assert response.status_code == 403
    assert not TargetEntry.objects.filter(kpi=latency).exists()


def test_drafts_are_hidden_from_read_tokens(reader: ApiClient, org: Any) -> None:
    draft = KpiFactory(org=org, published=False)
    assert reader.get(path(draft)).status_code == 404


def test_another_orgs_kpi_is_404_for_read_and_write(admin: ApiClient) -> None:
    foreign = KpiFactory()
    assert admin.get(path(foreign)).status_code == 404
    assert admin.put(path(foreign), SCHEDULE).status_code == 404
    assert not TargetEntry.objects.filter(kpi=foreign).exists()
    assert admin.get("/kpis/no-such-kpi/targets").status_code == 404
    assert admin.get("/kpis/%00/targets").status_code == 404


def test_without_a_token_it_is_401(latency: Kpi) -> None:
    assert ApiClient(None).get(path(latency)).status_code == 401
    assert ApiClient(None).put(path(latency), SCHEDULE).status_code == 401
