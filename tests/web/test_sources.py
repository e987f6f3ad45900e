"""Settings → KPIs → Source: binding from the web, the once-shown secret, rotation, deliveries,
and the last pull attempts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.connectors.signing import signed_headers
from tests.factories import PASSWORD, KpiFactory, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.registry import CONNECTORS
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db
BASE_URL = "https://pulse.example.test"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{32}")


@pytest.fixture(autouse=True)
def base_url(settings: Any) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "BASE_URL": BASE_URL}


@pytest.fixture
def kpi() -> Kpi:
    return KpiFactory(title="Signups")


def signed_in(membership: Membership) -> Client:
    client = Client()
    assert client.login(username=membership.user.email, password=PASSWORD)
    return client


@pytest.fixture
def admin(kpi: Kpi) -> Client:
    return signed_in(MembershipFactory(org=kpi.org, role="admin"))


def page(kpi: Kpi) -> str:
    return reverse("web:kpi-source", kwargs={"kpi_id": kpi.pk})


def rotate_page(kpi: Kpi) -> str:
    return reverse("web:kpi-source-rotate", kwargs={"kpi_id": kpi.pk})


def text(response: Any) -> str:
    return str(response.content.decode())


def secrets_in(response: Any) -> set[str]:
    return set(SECRET.findall(text(response)))


def bind_webhook(admin: Client, kpi: Kpi) -> str:
    response = admin.post(page(kpi), {"kind": "webhook"})
    assert response.status_code == 200
    (secret,) = secrets_in(response)
    return secret


def deliver(kpi: Kpi, secret: str, body: bytes = b'{"value": 3.5}') -> int:
    headers = {k: v for k, v in signed_headers(secret, body).items() if k != "content-type"}
    return int(
        Client()
        .post(f"/hooks/kpis/{kpi.pk}", body, content_type="application/json", headers=headers)
        .status_code
    )


def test_the_page_offers_every_registered_kind(kpi: Kpi, admin: Client) -> None:
    response = admin.get(page(kpi))
    assert response.status_code == 200
    for kind, connector in CONNECTORS.items():
        assert f'name="kind" value="{kind}"' in text(response)
        assert connector.summary in text(response)
    assert 'value="manual" checked' in text(response)
    assert not secrets_in(response)


def test_binding_a_webhook_shows_the_secret_once_with_a_copy_button(
    kpi: Kpi, admin: Client
) -> None:
    response = admin.post(page(kpi), {"kind": "webhook"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    (secret,) = secrets_in(response)
    assert 'data-copy="webhook-secret"' in text(response)
    assert f"{BASE_URL}/hooks/kpis/{kpi.pk}" in text(response)
    assert Source.objects.get(kpi=kpi).kind == "webhook"

    again = admin.get(page(kpi))
    assert not secrets_in(again)
    assert f"…{secret[-4:]}" in text(again)
    assert deliver(kpi, secret) == 200


def test_the_webhook_page_shows_the_curl_and_python_examples_for_this_endpoint(
    kpi: Kpi, admin: Client
) -> None:
    bind_webhook(admin, kpi)
    shown = text(admin.get(page(kpi)))
    assert f"export PULSEBOARD_WEBHOOK_URL={BASE_URL}/hooks/kpis/{kpi.pk}" in shown
    assert "openssl dgst -sha256 -mac HMAC" in shown
    assert "from standardwebhooks import Webhook" in shown


def test_saving_the_webhook_again_keeps_the_secret(kpi: Kpi, admin: Client) -> None:
    secret = bind_webhook(admin, kpi)
    response = admin.post(page(kpi), {"kind": "webhook"}, follow=True)
    assert not secrets_in(response)
    assert "Nothing changed." in text(response)
    assert deliver(kpi, secret) == 200


def test_switching_to_manual_keeps_the_value_and_stops_the_webhook(
    kpi: Kpi, admin: Client, system_actor: Any
) -> None:
    secret = bind_webhook(admin, kpi)
    value_record(kpi=kpi, value=9.0, observed_at=None, source="manual", actor=system_actor)
    response = admin.post(page(kpi), {"kind": "manual"})
    assert response.status_code == 302
    kpi.refresh_from_db()
    assert kpi.current_value == 9.0
    assert deliver(kpi, secret) == 401
    event = AuditEvent.objects.filter(action="source.bound").last()
    assert event is not None and event.actor_kind == "user"


def test_rotation_asks_for_confirmation_first(kpi: Kpi, admin: Client) -> None:
    secret = bind_webhook(admin, kpi)
    response = admin.get(rotate_page(kpi))
    assert response.status_code == 200
    assert "Rotate the secret?" in text(response)
    assert f'action="{rotate_page(kpi)}"' in text(response)
    assert deliver(kpi, secret) == 200  # looking at the confirmation changes nothing


def test_rotating_shows_the_new_secret_once_and_the_old_one_stops(kpi: Kpi, admin: Client) -> None:
    old = bind_webhook(admin, kpi)
    response = admin.post(rotate_page(kpi))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    (new,) = secrets_in(response)
    assert new != old
    assert deliver(kpi, old) == 401
    assert deliver(kpi, new) == 200
    assert not secrets_in(admin.get(page(kpi)))


def test_rotating_a_manual_source_says_why_not(kpi: Kpi, admin: Client) -> None:
    response = admin.post(rotate_page(kpi))
    assert response.status_code == 409
    assert "bind it to webhook first" in text(response)


def test_the_last_deliveries_are_listed_with_their_outcome(kpi: Kpi, admin: Client) -> None:
    secret = bind_webhook(admin, kpi)
    assert deliver(kpi, secret, b'{"value": 3.5}') == 200
    assert deliver(kpi, secret, b'{"value": 1, "observed_at": "2020-01-01T00:00:00Z"}') == 200
    shown = text(admin.get(page(kpi)))
    assert "Recorded as the current value" in shown
    assert "Older than the current value: history only" in shown
    assert "<td>3.5</td>" in shown


def test_an_unknown_kind_is_refused_with_a_message(kpi: Kpi, admin: Client) -> None:
    response = admin.post(page(kpi), {"kind": "ftp"})
    assert response.status_code == 422
    assert "unknown source kind" in text(response)
    assert Source.objects.get(kpi=kpi).kind == "manual"


def test_the_page_runs_no_inline_script(kpi: Kpi, admin: Client) -> None:
    bind_webhook(admin, kpi)
    shown = text(admin.get(page(kpi)))
    assert re.findall(r"<script(?![^>]*\bsrc=)", shown) == []
    assert "pulseboard/source.js" in shown


def test_members_may_not_open_the_page(kpi: Kpi) -> None:
    member = signed_in(MembershipFactory(org=kpi.org, role="member"))
    assert member.get(page(kpi)).status_code == 403
    assert member.post(page(kpi), {"kind": "webhook"}).status_code == 403
    assert member.post(rotate_page(kpi)).status_code == 403
    assert Source.objects.get(kpi=kpi).kind == "manual"


def test_another_orgs_admin_gets_404(kpi: Kpi) -> None:
    stranger = signed_in(MembershipFactory(role="admin"))
    assert stranger.get(page(kpi)).status_code == 404
    assert stranger.post(page(kpi), {"kind": "webhook"}).status_code == 404
    assert stranger.post(rotate_page(kpi)).status_code == 404
    assert Source.objects.get(kpi=kpi).kind == "manual"


def test_signed_out_visitors_are_sent_to_log_in(kpi: Kpi) -> None:
    response = Client().get(page(kpi))
    assert response.status_code == 302
    assert reverse("web:login") in response["Location"]


def pulled_attempts(kpi: Kpi, count: int) -> None:
    Source.objects.filter(kpi=kpi).update(
        kind="https_get", config={"url": "https://api.example.com/up", "json_path": "$.up"}
    )
    source = Source.objects.get(kpi=kpi)
    start = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    for n in range(count):
        ok = n % 2 == 0
        PullAttempt.objects.create(
            org_id=kpi.org_id,
            source=source,
            started_at=start + timedelta(minutes=n),
            duration_ms=100 + n,
            ok=ok,
            value=1000.0 + n if ok else None,
            error="" if ok else f"HTTP 503 from api.example.com (pull {n})",
        )


def test_the_last_20_pull_attempts_are_listed_newest_first(kpi: Kpi, admin: Client) -> None:
    pulled_attempts(kpi, 25)
    pulled_attempts(KpiFactory(org=kpi.org), 3)  # another KPI's: not listed here
    body = text(admin.get(page(kpi)))
    section = body.split('id="attempts-title"')[1].split("</section>")[0]
    assert section.count('class="attempt-') == 20
    assert "HTTP 503 from api.example.com (pull 23)" in section  # the newest failure
    assert "1024.0" in section and "124 ms" in section  # the newest success and its duration
    assert "(pull 5)" in section and "(pull 3)" not in section  # the 5 oldest are not shown
    assert section.index("(pull 23)") < section.index("(pull 21)")


def test_a_pull_source_never_pulled_says_so(kpi: Kpi, admin: Client) -> None:
    pulled_attempts(kpi, 0)
    body = text(admin.get(page(kpi)))
    assert 'id="attempts-title"' in body and "No pull yet" in body


def test_a_webhook_source_has_no_attempts_section(kpi: Kpi, admin: Client) -> None:
    bind_webhook(admin, kpi)
    assert 'id="attempts-title"' not in text(admin.get(page(kpi)))


def test_the_webhook_page_says_other_fields_and_schemes_are_ignored(
    kpi: Kpi, admin: Client
) -> None:
    bind_webhook(admin, kpi)
    body = text(admin.get(page(kpi)))
    assert "<code>ignored_fields</code>" in body and "<code>v1a</code> are ignored" in body
