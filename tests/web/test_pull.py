"""The "Pull now" button on a KPI's source page, against a real HTTPS server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client, override_settings
from django.urls import reverse
from tests.factories import KpiFactory
from tests.json_endpoint import Certificates, JsonEndpoint, Reply, make_certificates

from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.services import source_bind
from pulseboard.core.actors import Actor
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def endpoint(certificates: Certificates) -> Iterator[JsonEndpoint]:
    with JsonEndpoint(certificates.server) as server:
        yield server


@pytest.fixture(autouse=True)
def pull_settings(certificates: Certificates) -> Iterator[None]:
    with override_settings(
        PULSEBOARD={
            **settings.PULSEBOARD,
            "ALLOW_PRIVATE_CIDRS": "127.0.0.1/32",
            "CA_BUNDLE": certificates.ca_path,
        }
    ):
        yield


def bound_kpi(admin: Membership, endpoint: JsonEndpoint, path: str, **fields: Any) -> Kpi:
    kpi = KpiFactory(org=admin.org, **fields)
    config = {"url": endpoint.url(path), "json_path": "$.value"}
    source_bind(kpi=kpi, actor=Actor.system("test"), kind="https_get", config=config)
    return kpi


def pull(client: Client, kpi: Kpi) -> tuple[Any, list[str]]:
    response = client.post(reverse("web:kpi-source-pull", kwargs={"kpi_id": kpi.pk}))
    return response, [str(message) for message in get_messages(response.wsgi_request)]


def test_pull_now_records_the_value_and_says_what_it_read(
    admin_client: Client, admin: Membership, endpoint: JsonEndpoint
) -> None:
    endpoint.replies["/web-ok"] = Reply(body=b'{"value": "99.95%"}')
    kpi = bound_kpi(admin, endpoint, "/web-ok", unit_type="percentage", display_format="decimal_2")
    response, shown = pull(admin_client, kpi)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:kpi-source", kwargs={"kpi_id": kpi.pk})
    assert shown == ["Pulled 99.95%: recorded as the current value."]
    kpi.refresh_from_db()
    assert kpi.current_value == 99.95


def test_pull_now_failure_shows_the_error_and_keeps_the_value(
    admin_client: Client, admin: Membership, endpoint: JsonEndpoint
) -> None:
    endpoint.replies["/web-down"] = Reply(body=b'{"value": 3}')
    kpi = bound_kpi(admin, endpoint, "/web-down")
    pull(admin_client, kpi)
    endpoint.replies["/web-down"] = Reply(status=503)
    _, shown = pull(admin_client, kpi)
    assert shown[-1] == "Pull failed: HTTP 503 from 127.0.0.1"
    kpi.refresh_from_db()
    assert kpi.current_value == 3
    assert Source.objects.get(kpi=kpi).consecutive_failures == 1
    assert PullAttempt.objects.filter(source__kpi=kpi).count() == 2


def test_pull_now_on_a_manual_source_explains_instead_of_pulling(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org)
    _, shown = pull(admin_client, kpi)
    assert len(shown) == 1 and "manual" in shown[0]


def test_source_page_offers_pull_now_for_pull_sources_only(
    admin_client: Client, admin: Membership, endpoint: JsonEndpoint
) -> None:
    pulled = bound_kpi(admin, endpoint, "/web-page")
    manual = KpiFactory(org=admin.org)
    page = admin_client.get(reverse("web:kpi-source", kwargs={"kpi_id": pulled.pk}))
    assert 'id="pull-now"' in page.content.decode()
    page = admin_client.get(reverse("web:kpi-source", kwargs={"kpi_id": manual.pk}))
    assert 'id="pull-now"' not in page.content.decode()


def test_members_cannot_pull_and_get_is_not_allowed(
    member_client: Client, admin_client: Client, admin: Membership, endpoint: JsonEndpoint
) -> None:
    kpi = bound_kpi(admin, endpoint, "/web-denied")
    assert pull(member_client, kpi)[0].status_code == 403
    url = reverse("web:kpi-source-pull", kwargs={"kpi_id": kpi.pk})
    assert admin_client.get(url).status_code == 405
    assert endpoint.count("/web-denied") == 0


def test_another_orgs_kpi_is_not_found(admin_client: Client, endpoint: JsonEndpoint) -> None:
    other = KpiFactory()
    source_bind(
        kpi=other,
        actor=Actor.system("test"),
        kind="https_get",
        config={"url": endpoint.url("/web-other"), "json_path": "$.value"},
    )
    assert pull(admin_client, other)[0].status_code == 404
    assert endpoint.count("/web-other") == 0
