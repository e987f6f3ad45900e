"""POST /kpis/{id}/history/import: CSV in, checked whole before anything is written.

Also the service under it (``history_import``): skipped instants, the ordering rule for
the current value, statuses under the KPI's shape (rolling baselines included), one
audit event, the sparkline rollup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tests.api_client import BASE, ApiClient, api_token
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.history.importing import MAX_FILE_BYTES
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import history_import, history_import_parse, value_record
from pulseboard.indicators.models import Kpi

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def csv_of(rows: list[tuple[datetime, float]], header: str = "observed_at,value") -> bytes:
    lines = [header] + [f"{when.isoformat()},{value!r}" for when, value in rows]
    return ("\n".join(lines) + "\n").encode()


def post_csv(
    token: str | None,
    kpi_id: str,
    body: bytes,
    content_type: str = "text/csv",
    **extra: Any,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client().generic(
        "POST",
        f"{BASE}/kpis/{kpi_id}/history/import",
        body,
        content_type=content_type,
        headers=headers,
        **extra,
    )


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def token(org: Any) -> str:
    return api_token(org)


@pytest.fixture
def kpi(org: Any) -> Any:
    return KpiFactory(org=org, shape="stay_above", threshold=10.0)


def rows_of(kpi: Kpi) -> list[tuple[datetime, float, str, str]]:
    return list(
        KpiHistory.objects.filter(kpi=kpi)
        .order_by("observed_at")
        .values_list("observed_at", "value", "status", "source")
    )


# --- the endpoint --------------------------------------------------------------------


def test_import_writes_every_row_with_its_status_and_moves_the_current_value(
    token: str, kpi: Kpi
) -> None:
    body = csv_of([(T0 + timedelta(days=day), float(day * 5)) for day in range(4)])
    response = post_csv(token, kpi.pk, body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert {k: data[k] for k in ("rows", "imported", "skipped", "applied")} == {
        "rows": 4,
        "imported": 4,
        "skipped": 0,
        "applied": True,
    }
    assert data["first_observed_at"].startswith("2025-01-01T00:00:00")
    assert data["last_observed_at"].startswith("2025-01-04T00:00:00")
    assert data["kpi"]["current_value"] == 15.0 and data["kpi"]["status"] == "green"
    assert [(v, s, src) for _, v, s, src in rows_of(kpi)] == [
        (0.0, "red", "api"),
        (5.0, "red", "api"),
        (10.0, "green", "api"),
        (15.0, "green", "api"),
    ]
    events = AuditEvent.objects.filter(target_id=kpi.pk)
    assert [e.action for e in events] == ["history.imported"]
    after: Any = events[0].after
    assert after["rows"] == 4 and after["skipped"] == 0
    assert events[0].actor_label.startswith("token:")


def test_rows_at_instants_already_in_history_are_skipped_and_counted(token: str, kpi: Kpi) -> None:
    now = timezone.now()
    value_record(kpi=kpi, value=50, observed_at=T0, source="api", actor=ACTOR)
    value_record(kpi=kpi, value=60, observed_at=now, source="api", actor=ACTOR)
    body = csv_of([(T0, 1.0), (T0 + timedelta(hours=1), 2.0), (T0 + timedelta(hours=2), 3.0)])
    response = post_csv(token, kpi.pk, body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["imported"], data["skipped"], data["applied"]) == (2, 1, False)
    # Older than the current value: history only, the number does not move back.
    assert data["kpi"]["current_value"] == 60.0
    assert [v for _, v, _, _ in rows_of(kpi)] == [50.0, 2.0, 3.0, 60.0]


def test_importing_the_same_file_twice_skips_everything_the_second_time(
    token: str, kpi: Kpi
) -> None:
    body = csv_of([(T0 + timedelta(days=day), 12.0) for day in range(3)])
    assert post_csv(token, kpi.pk, body).json()["imported"] == 3
    again = post_csv(token, kpi.pk, body).json()
    assert (again["imported"], again["skipped"]) == (0, 3)
    assert KpiHistory.objects.filter(kpi=kpi).count() == 3
    assert AuditEvent.objects.filter(action="history.imported").count() == 1


def test_a_bad_row_refuses_the_whole_file_listing_lines_and_writes_nothing(
    token: str, kpi: Kpi
) -> None:
    body = (
        b"observed_at,value\n"
        b"2025-01-01T00:00:00Z,1\n"
        b"2025-01-02 00:00,2\n"
        b"2025-01-03T00:00:00Z,NaN\n"
        b"2025-01-04T00:00:00Z,4\n"
        b"2025-01-01T00:00:00Z,5\n"
    )
    response = post_csv(token, kpi.pk, body)
    assert response.status_code == 422
    data = response.json()
    assert data["detail"] == "the file has 3 errors; nothing was imported"
    assert data["errors"] == {
        "line 3": "observed_at '2025-01-02 00:00' needs a UTC offset, e.g. 2025-06-02T09:30:00Z "
        "or 2025-06-02T11:30:00+02:00",
        "line 4": "value 'NaN' is not a finite number",
        "line 6": "observed_at 2025-01-01T00:00:00+00:00 appears twice (lines 2 and 6)",
    }
    assert not KpiHistory.objects.filter(kpi=kpi).exists()
    assert not AuditEvent.objects.filter(target_id=kpi.pk).exists()
    kpi.refresh_from_db()
    assert kpi.current_value is None


def test_many_bad_rows_list_the_first_twenty_with_the_count(token: str, kpi: Kpi) -> None:
    body = b"observed_at,value\n" + b"".join(
        b"2025-01-01T00:%02d:00,1\n" % minute for minute in range(50)
    )
    data = post_csv(token, kpi.pk, body).json()
    assert (
        data["detail"] == "the file has 50 errors (the first 20 are listed); nothing was imported"
    )
    assert len(data["errors"]) == 20 and "line 2" in data["errors"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"observed_at;value\n2025-01-01T00:00:00Z;1\n", "columns are separated by ';'"),
        (b"\xff\xfeo\x00", "UTF-16"),
        (b"observed_at,value\n", "only a header"),
        (b"observed_at,value\n2099-01-01T00:00:00Z,1\n", "in the future"),
        (b"observed_at,value\n2025-01-01T00:00:00Z,1e400\n", "too large"),
    ],
)
def test_unreadable_files_are_a_422_naming_the_problem(
    token: str, kpi: Kpi, body: bytes, message: str
) -> None:
    response = post_csv(token, kpi.pk, body)
    assert response.status_code == 422
    assert message in " ".join(response.json()["errors"].values())
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_a_bom_and_quoted_fields_are_accepted(token: str, kpi: Kpi) -> None:
    body = b'\xef\xbb\xbf"observed_at","value"\r\n"2025-01-01T00:00:00Z","11.5"\r\n'
    response = post_csv(token, kpi.pk, body)
    assert response.status_code == 200 and response.json()["imported"] == 1


def test_an_empty_body_says_how_to_send_the_file(token: str, kpi: Kpi) -> None:
    response = post_csv(token, kpi.pk, b"")
    assert response.status_code == 422
    assert "--data-binary @history.csv" in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/json"],
)
def test_a_form_upload_or_json_is_415_saying_to_send_the_file_as_the_body(
    token: str, kpi: Kpi, content_type: str
) -> None:
    response = post_csv(token, kpi.pk, csv_of([(T0, 1.0)]), content_type=content_type)
    assert response.status_code == 415
    assert "Content-Type: text/csv" in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/csv; charset=utf-8", "text/plain", ""])
def test_csv_text_and_no_content_type_are_read(token: str, kpi: Kpi, content_type: str) -> None:
    response = post_csv(token, kpi.pk, csv_of([(T0, 1.0)]), content_type=content_type)
    assert response.status_code == 200


def test_a_body_over_the_cap_is_413_in_the_api_shape_before_it_is_read(
    token: str, kpi: Kpi
) -> None:
    # 50 MB announced; the body sent is small: the length alone refuses it.
    response = post_csv(token, kpi.pk, csv_of([(T0, 1.0)]), CONTENT_LENGTH=str(50 * 1000 * 1000))
    assert response.status_code == 413
    assert response.json() == {
        "detail": "the file is larger than 10 MiB; split it into several imports"
    }
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_a_body_larger_than_the_json_limit_is_streamed_in(token: str, kpi: Kpi) -> None:
    rows = [(T0 + timedelta(minutes=m), float(m)) for m in range(12_000)]
    body = csv_of(rows)
    assert 256 * 1024 < len(body) < MAX_FILE_BYTES
    response = post_csv(token, kpi.pk, body)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["imported"] == 12_000
    assert KpiHistory.objects.filter(kpi=kpi).count() == 12_000


def test_read_tokens_get_403_and_write_nothing(org: Any, kpi: Kpi) -> None:
    response = post_csv(api_token(org, "read"), kpi.pk, csv_of([(T0, 1.0)]))
    assert response.status_code == 403
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_no_token_is_401(kpi: Kpi) -> None:
    assert post_csv(None, kpi.pk, csv_of([(T0, 1.0)])).status_code == 401


def test_another_orgs_kpi_is_404_like_a_missing_one(kpi: Kpi) -> None:
    other = api_token(OrganizationFactory.create())
    response = post_csv(other, kpi.pk, csv_of([(T0, 1.0)]))
    assert response.status_code == 404
    assert response.json() == {"detail": "KPI not found"}
    assert post_csv(other, "nope\x00", csv_of([(T0, 1.0)])).status_code == 404
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_drafts_can_be_imported_into_by_admins(org: Any, token: str) -> None:
    draft: Any = KpiFactory(org=org, published=False)
    assert post_csv(token, draft.pk, csv_of([(T0, 1.0)])).status_code == 200


def test_the_operation_is_in_the_openapi_schema_with_a_csv_body(org: Any) -> None:
    schema: Any = ApiClient.for_org(org).get("/openapi.json")
    schema = schema.json()
    operation = schema["paths"]["/api/v1/kpis/{kpi_id}/history/import"]["post"]
    assert "text/csv" in operation["requestBody"]["content"]
    assert {"200", "413", "415", "422"} <= set(operation["responses"])


# --- the service ------------------------------------------------------------------------


def test_statuses_follow_a_rolling_baseline_across_stored_and_imported_rows(org: Any) -> None:
    kpi: Any = KpiFactory(
        org=org,
        shape="trend",
        direction="up",
        baseline_mode="prior_period",
        baseline_period="7d",
        threshold=None,
    )
    # Stored before the import: the value a week before the first imported row.
    value_record(kpi=kpi, value=100, observed_at=T0, source="api", actor=ACTOR)
    points = [
        (T0 + timedelta(days=7), 120.0),  # vs 100 stored: up, green
        (T0 + timedelta(days=10), 90.0),  # vs 100 stored (day 3 has nothing newer): red
        (T0 + timedelta(days=17), 110.0),  # vs 90 imported at day 10: green
        (T0 + timedelta(days=21), 80.0),  # vs 110 at day 17? no: day 14 -> 90 at day 10: red
    ]
    history_import(kpi=kpi, points=points, actor=ACTOR, source="api")
    statuses = [status for _, _, status, _ in rows_of(kpi)]
    assert statuses == ["unknown", "green", "red", "green", "red"]


def test_a_newer_import_becomes_the_current_value_with_its_status(kpi: Kpi) -> None:
    value_record(kpi=kpi, value=50, observed_at=T0, source="api", actor=ACTOR)
    outcome = history_import(
        kpi=kpi, points=[(T0 + timedelta(days=1), 3.0)], actor=ACTOR, source="manual"
    )
    assert outcome.applied and outcome.imported == 1
    kpi.refresh_from_db()
    assert (kpi.current_value, kpi.status) == (3.0, "red")
    assert kpi.observed_at == T0 + timedelta(days=1)


def test_the_sparkline_rollup_covers_imported_days(kpi: Kpi) -> None:
    now = timezone.now().replace(microsecond=0)
    points = [(now - timedelta(days=day), float(day)) for day in range(1, 4)]
    history_import(kpi=kpi, points=points, actor=ACTOR, source="api")
    kpi.refresh_from_db()
    assert sorted(kpi.sparkline) == sorted(
        (now - timedelta(days=day)).astimezone(UTC).date().isoformat() for day in range(1, 4)
    )


def test_everything_skipped_writes_no_audit_event(kpi: Kpi) -> None:
    value_record(kpi=kpi, value=50, observed_at=T0, source="api", actor=ACTOR)
    outcome = history_import(kpi=kpi, points=[(T0, 1.0)], actor=ACTOR, source="api")
    assert (outcome.imported, outcome.skipped, outcome.applied) == (0, 1, False)
    assert not AuditEvent.objects.filter(action="history.imported").exists()


@pytest.mark.parametrize(
    "points",
    [
        [(T0, float("nan"))],
        [(T0.replace(tzinfo=None), 1.0)],
        [(datetime.now(UTC) + timedelta(hours=1), 1.0)],
        [],
    ],
)
def test_the_service_checks_points_itself_and_writes_nothing(
    kpi: Kpi, points: list[tuple[datetime, float]]
) -> None:
    with pytest.raises(ValidationFailed):
        history_import(kpi=kpi, points=points, actor=ACTOR, source="api")
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_parse_uses_the_clock_for_the_future_rule() -> None:
    soon = timezone.now() + timedelta(minutes=4)
    later = timezone.now() + timedelta(minutes=6)
    assert history_import_parse([csv_of([(soon, 1.0)])]).ok
    assert not history_import_parse([csv_of([(later, 1.0)])]).ok


def test_progress_is_reported_per_insert(kpi: Kpi) -> None:
    seen: list[int] = []
    points = [(T0 + timedelta(minutes=m), 1.0) for m in range(4500)]
    history_import(kpi=kpi, points=points, actor=ACTOR, source="api", progress=seen.append)
    assert seen == [2000, 2000, 500]
