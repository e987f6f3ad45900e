"""The source endpoints of the API: read, bind, rotate; scopes, tenancy, the once-shown secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from tests.api_client import ApiClient
from tests.connectors.signing import signed_headers
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.indicators.models import Kpi

pytestmark = pytest.mark.django_db
BASE_URL = "https://pulse.example.test"


@pytest.fixture(autouse=True)
def base_url(settings: Any) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "BASE_URL": BASE_URL + "/"}


@pytest.fixture
def kpi() -> Kpi:
    return KpiFactory()


@pytest.fixture
def admin(kpi: Kpi) -> ApiClient:
    return ApiClient.for_org(kpi.org)


def hook(kpi: Kpi, secret: str) -> int:
    """A delivery through the real endpoint; returns its status."""
    body = b'{"value": 1}'
    headers = {k: v for k, v in signed_headers(secret, body).items() if k != "content-type"}
    response = Client().post(
        f"/hooks/kpis/{kpi.pk}", body, content_type="application/json", headers=headers
    )
    return int(response.status_code)


def test_a_new_kpi_reads_back_as_manual(kpi: Kpi, admin: ApiClient) -> None:
    response = admin.get(f"/kpis/{kpi.pk}/source")
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "manual"
    assert (body["endpoint"], body["secret_hint"], body["interval_seconds"]) == (None, None, None)
    assert body["status"]["summary"] == "Manual"
    assert "secret" not in body


def test_binding_a_webhook_answers_the_endpoint_and_the_secret_once(
    kpi: Kpi, admin: ApiClient
) -> None:
    response = admin.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook", "config": {}})
    assert response.status_code == 200
    body = response.json()
    assert body["endpoint"] == f"{BASE_URL}/hooks/kpis/{kpi.pk}"
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["secret_hint"] == secret[-4:]
    assert hook(kpi, secret) == 200

    read = admin.get(f"/kpis/{kpi.pk}/source")
    assert secret not in read.content.decode()
    assert read.json()["secret_hint"] == secret[-4:]
    again = admin.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"})
    assert again.json()["secret"] is None
    assert hook(kpi, secret) == 200


def test_rotating_answers_a_new_secret_and_the_old_one_stops(kpi: Kpi, admin: ApiClient) -> None:
    old = admin.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"}).json()["secret"]
    response = admin.post(f"/kpis/{kpi.pk}/source/rotate-secret")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert hook(kpi, old) == 401
    assert hook(kpi, new) == 200


def test_rotating_a_manual_source_is_409(kpi: Kpi, admin: ApiClient) -> None:
    response = admin.post(f"/kpis/{kpi.pk}/source/rotate-secret")
    assert response.status_code == 409
    assert "webhook" in response.json()["detail"]


def test_switching_back_to_manual_keeps_the_value(kpi: Kpi, admin: ApiClient) -> None:
    admin.put(f"/kpis/{kpi.pk}/value", {"value": 7.5})
    admin.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"})
    response = admin.put(f"/kpis/{kpi.pk}/source", {"kind": "manual"})
    assert (response.status_code, response.json()["kind"]) == (200, "manual")
    kpi.refresh_from_db()
    assert kpi.current_value == 7.5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "ftp"}, "kind"),
        ({"kind": "webhook", "config": {"secret": "x"}}, "secret"),
        ({"kind": "webhook", "colour": "red"}, "colour"),
        ({"config": {}}, "kind"),
        ({"kind": 3}, "kind"),
    ],
)
def test_a_bad_binding_is_422_naming_the_field_and_writes_nothing(
    kpi: Kpi, admin: ApiClient, body: dict[str, Any], field: str
) -> None:
    response = admin.put(f"/kpis/{kpi.pk}/source", body)
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert Source.objects.get(kpi=kpi).kind == "manual"
    assert not AuditEvent.objects.filter(action__startswith="source.").exists()


def test_a_body_that_is_not_json_is_400(kpi: Kpi, admin: ApiClient) -> None:
    response = admin.send("PUT", f"/kpis/{kpi.pk}/source", raw=b"kind=webhook")
    assert response.status_code == 400


def test_a_read_token_can_read_but_not_bind_or_rotate(kpi: Kpi) -> None:
    reader = ApiClient.for_org(kpi.org, scope="read")
    assert reader.get(f"/kpis/{kpi.pk}/source").status_code == 200
    assert reader.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"}).status_code == 403
    assert reader.post(f"/kpis/{kpi.pk}/source/rotate-secret").status_code == 403
    assert Source.objects.get(kpi=kpi).kind == "manual"


def test_a_read_token_does_not_see_a_drafts_source(kpi: Kpi) -> None:
    Kpi.objects.filter(pk=kpi.pk).update(published=False)
    reader = ApiClient.for_org(kpi.org, scope="read")
    assert reader.get(f"/kpis/{kpi.pk}/source").status_code == 404


def test_another_orgs_token_gets_404_everywhere(kpi: Kpi) -> None:
    stranger = ApiClient.for_org(KpiFactory().org)
    assert stranger.get(f"/kpis/{kpi.pk}/source").status_code == 404
    assert stranger.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"}).status_code == 404
    assert stranger.post(f"/kpis/{kpi.pk}/source/rotate-secret").status_code == 404
    assert Source.objects.get(kpi=kpi).kind == "manual"


def test_no_token_is_401(kpi: Kpi) -> None:
    anonymous = ApiClient(None)
    assert anonymous.get(f"/kpis/{kpi.pk}/source").status_code == 401
    assert anonymous.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"}).status_code == 401


def test_binding_is_audited_as_the_token(kpi: Kpi, admin: ApiClient) -> None:
    admin.put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"})
    event = AuditEvent.objects.get(action="source.bound")
    assert (event.actor_kind, event.before["kind"], event.after["kind"]) == (
        "token",
        "manual",
        "webhook",
    )
    assert event.created_at <= datetime.now(UTC)


# --- who sees what of a source (DESIGN §15) -----------------------------------------------

KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
SPREADSHEET = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def failing_https_get(kpi: Kpi) -> Source:
    Source.objects.filter(kpi=kpi).update(
        kind="https_get",
        config={"url": f"https://api.example.com/v1/uptime?key={KEY}", "json_path": "$.up"},
        secret_encrypted="x",
        secret_hint="Ab12",
        interval_seconds=300,
        last_pulled_at=datetime(2025, 6, 2, 9, 30, tzinfo=UTC),
        last_success_at=datetime(2025, 6, 2, 9, 0, tzinfo=UTC),
        last_error="HTTP 503 from api.example.com",
        last_error_at=datetime(2025, 6, 2, 9, 30, tzinfo=UTC),
        consecutive_failures=2,
    )
    return Source.objects.get(kpi=kpi)


def test_a_read_token_sees_a_sources_kind_and_health_only(kpi: Kpi) -> None:
    failing_https_get(kpi)
    reader = ApiClient.for_org(kpi.org, scope="read")
    response = reader.get(f"/kpis/{kpi.pk}/source")
    assert response.status_code == 200
    text = response.content.decode()
    for hidden in (KEY, "api.example.com", "$.up", "Ab12", "HTTP 503"):
        assert hidden not in text
    assert response.json() == {
        "kind": "https_get",
        "label": "HTTPS JSON",
        "config": None,
        "secret_hint": None,
        "endpoint": None,
        "interval_seconds": None,
        "last_pulled_at": "2025-06-02T09:30:00Z",
        "last_success_at": "2025-06-02T09:00:00Z",
        "last_error": None,
        "consecutive_failures": 2,
        "status": {"summary": "HTTPS JSON: failing", "failing": True, "details": []},
    }


def test_an_admin_token_sees_the_settings_and_the_error(kpi: Kpi, admin: ApiClient) -> None:
    failing_https_get(kpi)
    body = admin.get(f"/kpis/{kpi.pk}/source").json()
    assert body["config"]["url"] == f"https://api.example.com/v1/uptime?key={KEY}"
    assert (body["secret_hint"], body["last_error"]) == ("Ab12", "HTTP 503 from api.example.com")
    assert body["interval_seconds"] == 300
    assert body["status"]["details"]


def test_a_read_token_sees_no_spreadsheet_and_no_webhook_secret_hint(kpi: Kpi) -> None:
    reader = ApiClient.for_org(kpi.org, scope="read")
    Source.objects.filter(kpi=kpi).update(
        kind="sheets", config={"spreadsheet": SPREADSHEET, "tab": "KPIs", "cell": "B2"}
    )
    sheets = reader.get(f"/kpis/{kpi.pk}/source")
    assert SPREADSHEET not in sheets.content.decode() and "KPIs" not in sheets.content.decode()
    assert sheets.json()["status"] == {"summary": "Google Sheets", "failing": False, "details": []}

    ApiClient.for_org(kpi.org).put(f"/kpis/{kpi.pk}/source", {"kind": "webhook"})
    hint = Source.objects.get(kpi=kpi).secret_hint
    webhook = reader.get(f"/kpis/{kpi.pk}/source").json()
    assert (webhook["kind"], webhook["secret_hint"], webhook["endpoint"]) == ("webhook", None, None)
    assert hint not in json.dumps(webhook)


# --- the last pull attempts ------------------------------------------------------------------


def attempts_of(kpi: Kpi, count: int, *, start: datetime) -> None:
    source = Source.objects.get(kpi=kpi)
    for n in range(count):
        ok = n % 3 != 0
        PullAttempt.objects.create(
            org_id=kpi.org_id,
            source=source,
            started_at=start + timedelta(minutes=n),
            duration_ms=10 + n,
            ok=ok,
            value=float(n) if ok else None,
            error="" if ok else f"HTTP 503 (attempt {n})",
        )


def test_admins_read_the_last_20_attempts_newest_first(kpi: Kpi, admin: ApiClient) -> None:
    failing_https_get(kpi)
    start = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    attempts_of(kpi, 25, start=start)
    attempts_of(KpiFactory(org=kpi.org), 3, start=start)  # another KPI's: not listed
    response = admin.get(f"/kpis/{kpi.pk}/source/attempts")
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "https_get"
    attempts = body["attempts"]
    assert len(attempts) == 20
    assert attempts[0] == {
        "started_at": "2025-06-02T08:24:00Z",
        "ok": False,
        "value": None,
        "error": "HTTP 503 (attempt 24)",
        "duration_ms": 34,
    }
    assert attempts[1] == {
        "started_at": "2025-06-02T08:23:00Z",
        "ok": True,
        "value": 23.0,
        "error": None,
        "duration_ms": 33,
    }
    assert attempts[-1]["started_at"] == "2025-06-02T08:05:00Z"


def test_a_source_never_pulled_has_no_attempts(kpi: Kpi, admin: ApiClient) -> None:
    assert admin.get(f"/kpis/{kpi.pk}/source/attempts").json() == {
        "kind": "manual",
        "attempts": [],
    }


def test_attempts_are_for_admin_tokens_of_the_org_only(kpi: Kpi) -> None:
    attempts_of(kpi, 2, start=datetime(2025, 6, 2, tzinfo=UTC))
    path = f"/kpis/{kpi.pk}/source/attempts"
    assert ApiClient.for_org(kpi.org, scope="read").get(path).status_code == 403
    assert ApiClient.for_org(KpiFactory().org).get(path).status_code == 404
    assert ApiClient(None).get(path).status_code == 401


def test_the_docs_read_scope_names_the_source_read_and_its_limits() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    (read_row,) = [line for line in docs.splitlines() if line.startswith("| `read` |")]
    assert "`GET /kpis/{id}/source`" in read_row and "kind and health" in read_row
