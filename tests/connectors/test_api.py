"""The source endpoints of the API: read, bind, rotate; scopes, tenancy, the once-shown secret."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from tests.api_client import ApiClient
from tests.connectors.signing import signed_headers
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import Source
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
