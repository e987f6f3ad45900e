"""Share links API: create (token once), list (no token), revoke; scopes, tenancy, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.tokens import hash_token
from pulseboard.sharing.models import ShareLink

pytestmark = pytest.mark.django_db


def test_create_answers_token_and_url_once_then_list_shows_neither() -> None:
    org = OrganizationFactory()
    kpi = KpiFactory(org=org)
    api = ApiClient.for_org(org)
    expires = (timezone.now() + timedelta(days=7)).isoformat()
    created = api.post(
        "/share-links", {"name": "Lobby", "kpi_ids": [kpi.pk], "expires_at": expires}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["token"].startswith("pbs_") and body["url"].endswith(f"/s/{body['token']}/")
    assert body["kpi_ids"] == [kpi.pk] and body["state"] == "active" and body["expires_at"]
    assert ShareLink.objects.get(pk=body["id"]).token_digest == hash_token(body["token"])
    listed = api.get("/share-links")
    assert listed.status_code == 200
    (row,) = listed.json()
    assert row["id"] == body["id"] and row["prefix"] == body["prefix"]
    assert body["token"] not in listed.content.decode() and "url" not in row and "token" not in row
    reader = ApiClient.for_org(org, scope="read")
    assert reader.get("/share-links").json()[0]["id"] == body["id"]


def test_default_link_has_no_kpi_ids() -> None:
    api = ApiClient.for_org(OrganizationFactory())
    body = api.post("/share-links", {"name": "All"}).json()
    assert body["kpi_ids"] is None and body["team_id"] is None and body["expires_at"] is None


def test_read_tokens_cannot_write_and_nothing_is_written() -> None:
    org = OrganizationFactory()
    reader = ApiClient.for_org(org, scope="read")
    assert reader.post("/share-links", {"name": "x"}).status_code == 403
    link = ApiClient.for_org(org).post("/share-links", {"name": "x"}).json()
    assert reader.delete(f"/share-links/{link['id']}").status_code == 403
    assert ShareLink.objects.get(pk=link["id"]).revoked_at is None


def test_revoke_then_state_revoked_and_audited() -> None:
    org = OrganizationFactory()
    api = ApiClient.for_org(org)
    link = api.post("/share-links", {"name": "x"}).json()
    assert api.delete(f"/share-links/{link['id']}").status_code == 204
    assert api.delete(f"/share-links/{link['id']}").status_code == 204
    assert api.get("/share-links").json()[0]["state"] == "revoked"
    assert AuditEvent.objects.filter(action="share_link.revoked", target_id=link["id"]).count() == 1


def test_expired_link_lists_as_expired() -> None:
    org = OrganizationFactory()
    api = ApiClient.for_org(org)
    soon = (timezone.now() + timedelta(seconds=30)).isoformat()
    link = api.post("/share-links", {"name": "x", "expires_at": soon}).json()
    ShareLink.objects.filter(pk=link["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/share-links").json()[0]["state"] == "expired"


def test_another_orgs_link_is_404_and_their_list_is_their_own() -> None:
    org, other = OrganizationFactory(), OrganizationFactory()
    link = ApiClient.for_org(org).post("/share-links", {"name": "Ours"}).json()
    theirs = ApiClient.for_org(other)
    assert theirs.delete(f"/share-links/{link['id']}").status_code == 404
    assert theirs.get("/share-links").json() == []
    assert ShareLink.objects.get(pk=link["id"]).revoked_at is None


def test_another_orgs_kpi_is_refused_naming_it() -> None:
    org, other = OrganizationFactory(), OrganizationFactory()
    theirs = KpiFactory(org=other)
    answer = ApiClient.for_org(org).post("/share-links", {"name": "x", "kpi_ids": [theirs.pk]})
    assert answer.status_code == 422
    assert theirs.pk in answer.json()["errors"]["kpi_ids"]
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "x", "kpi_ids": "abc"},
        {"name": "x", "kpi_ids": ["y" * 40]},
        {"name": "x", "kpi_ids": []},
        {"name": "x", "team_id": "nosuchteam"},
        {"name": "x", "expires_at": "2020-01-01T00:00:00Z"},
        {"name": "x", "expires_at": "2999-01-01T00:00:00"},
        {"name": "x", "expires_at": 1900000000},
        {"name": "x", "extra": 1},
        {"name": "a\u0000b"},
        [],
    ],
)
def test_bad_bodies_are_4xx_and_write_nothing(body: object) -> None:
    api = ApiClient.for_org(OrganizationFactory())
    events = AuditEvent.objects.count()
    answer = api.post("/share-links", body)
    assert answer.status_code in (400, 422), answer.content
    assert "detail" in answer.json()
    assert not ShareLink.objects.exists() and AuditEvent.objects.count() == events


@pytest.mark.parametrize("link_id", ["nosuch", "x" * 33, "%00", "a%2Fb"])
def test_odd_ids_are_404(link_id: str) -> None:
    assert (
        ApiClient.for_org(OrganizationFactory()).delete(f"/share-links/{link_id}").status_code
        == 404
    )
