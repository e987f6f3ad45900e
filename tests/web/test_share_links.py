"""Share links on the web: the settings page (admins) and the public board at /s/<token>/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.orgs.models import Membership
from pulseboard.orgs.rates import Rate
from pulseboard.sharing.models import ShareLink
from pulseboard.sharing.rate_limit import LinkWindows
from pulseboard.sharing.services import share_link_create, share_link_revoke
from pulseboard.web.views import share_links as views

ACTOR = Actor.system("test")
NOT_FOUND = b"<!doctype html><title>Not found</title><h1>Not found</h1>"


def _link(org: Any, **fields: Any) -> tuple[ShareLink, str]:
    return share_link_create(org=org, actor=ACTOR, **{"name": "Lobby", **fields})


# --- settings page -------------------------------------------------------------------------


def test_admin_creates_a_link_and_sees_its_url_once(
    admin: Membership, admin_client: Client
) -> None:
    kpi = KpiFactory(org=admin.org, title="Uptime")
    page = admin_client.post(
        "/settings/share-links/new/", {"name": "Lobby screen", "kpi_ids": [kpi.pk]}
    )
    assert page.status_code == 200
    text = page.content.decode()
    (url,) = re.findall(r'value="(http[^"]+/s/(pbs_[^"/]+)/)"', text)[:1]
    assert f"{url[0]}kpis/{kpi.pk}.svg" in text and "no-store" in page["Cache-Control"]
    link = ShareLink.objects.get()
    assert [k.pk for k in link.kpis.all()] == [kpi.pk] and link.created_by == admin.user
    listed = admin_client.get("/settings/share-links/").content.decode()
    assert "Lobby screen" in listed and url[1] not in listed and link.prefix in listed


def test_bad_form_is_422_and_writes_nothing(admin: Membership, admin_client: Client) -> None:
    other = KpiFactory(org=OrganizationFactory())
    for data in (
        {"name": ""},
        {"name": "x", "kpi_ids": [other.pk]},
        {"name": "x", "expires_at": "2001-01-01T00:00"},
    ):
        assert admin_client.post("/settings/share-links/new/", data).status_code == 422
    assert not ShareLink.objects.exists()


def test_members_may_not_use_the_settings_page(member_client: Client) -> None:
    assert member_client.get("/settings/share-links/").status_code == 403
    assert member_client.post("/settings/share-links/new/", {"name": "x"}).status_code == 403
    assert not ShareLink.objects.exists()


def test_admin_revokes_and_another_orgs_admin_gets_404(
    admin: Membership, admin_client: Client
) -> None:
    link, token = _link(admin.org)
    stranger = Client()
    stranger.force_login(MembershipFactory(role="admin").user)
    assert stranger.post(f"/settings/share-links/{link.pk}/revoke/").status_code == 404
    assert Client().get(f"/s/{token}/").status_code == 200
    assert admin_client.post(f"/settings/share-links/{link.pk}/revoke/").status_code == 302
    assert Client().get(f"/s/{token}/").content == NOT_FOUND
    assert AuditEvent.objects.filter(action="share_link.revoked").count() == 1


# --- the public board ----------------------------------------------------------------------


@pytest.fixture
def shared(db: None) -> dict[str, Any]:
    org = OrganizationFactory()
    owner = MembershipFactory(org=org, role="admin").user
    shown = KpiFactory(org=org, title="Shown uptime", owner=owner)
    value_record(kpi=shown, value=42, observed_at=timezone.now(), source="api", actor=ACTOR)
    hidden = KpiFactory(org=org, title="Hidden revenue")
    link, token = _link(org, kpi_ids=[shown.pk])
    return {
        "org": org,
        "owner": owner,
        "shown": shown,
        "hidden": hidden,
        "link": link,
        "token": token,
    }


def test_board_shows_exactly_the_links_kpis_and_no_people(shared: dict[str, Any]) -> None:
    page = Client().get(f"/s/{shared['token']}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Shown uptime" in text and "42" in text and "On track" in text
    assert "Hidden revenue" not in text and shared["hidden"].pk not in text
    assert shared["owner"].email not in text and "manual" not in text.lower()


def test_board_is_frameable_sets_no_cookie_and_no_referrer(shared: dict[str, Any]) -> None:
    anonymous = Client()
    signed_in = Client()
    signed_in.force_login(shared["owner"])
    for client in (anonymous, signed_in):
        page = client.get(f"/s/{shared['token']}/")
        assert page.status_code == 200
        assert "X-Frame-Options" not in page
        assert "frame-ancestors *" in page["Content-Security-Policy"]
        assert page["Referrer-Policy"] == "no-referrer"
        assert not page.cookies, page.cookies
        assert "Cookie" not in page.get("Vary", "")


def test_other_pages_still_refuse_framing(admin_client: Client) -> None:
    for response in (
        admin_client.get("/"),
        Client().get("/login/"),
        admin_client.get("/settings/share-links/"),
    ):
        assert response["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_unchanged_poll_is_304_after_one_query_and_a_new_value_changes_it(
    shared: dict[str, Any],
) -> None:
    client = Client()
    url = f"/s/{shared['token']}/"
    poll = {"HX-Request": "true"}
    with time_machine.travel(timezone.now(), tick=False):
        first = client.get(url, headers=poll)
        etag = first["ETag"]
        with CaptureQueriesContext(connection) as queries:
            again = client.get(url, headers={**poll, "If-None-Match": etag})
        assert again.status_code == 304 and len(queries) == 1
        value_record(
            kpi=shared["shown"],
            value=7,
            observed_at=timezone.now() + timedelta(seconds=1),
            source="api",
            actor=ACTOR,
        )
        changed = client.get(url, headers={**poll, "If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag and b"7.0" in changed.content


def test_unpublished_kpis_leave_the_board(shared: dict[str, Any]) -> None:
    shown = shared["shown"]
    shown.published = False
    shown.save()
    text = Client().get(f"/s/{shared['token']}/").content.decode()
    assert "Shown uptime" not in text


def test_every_bad_token_gets_the_same_404(shared: dict[str, Any]) -> None:
    org, token = shared["org"], shared["token"]
    revoked, revoked_token = _link(org)
    share_link_revoke(link=revoked, actor=ACTOR)
    _, expiring = _link(org, expires_at=timezone.now() + timedelta(minutes=1))
    bad = [
        "pbs_" + "A" * 43,
        revoked_token,
        token[:-1],
        token + "A",
        "pb_" + token[4:],
        "x",
        "%00",
        token[:-2] + "%00",
        "%C3%A9" * 10,
        "%FF%FE",
        "a" * 3000,
        "..%2F..%2Fetc",
    ]
    client = Client()
    answers = [client.get(f"/s/{t}/") for t in bad]
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        answers.append(client.get(f"/s/{expiring}/"))
    assert {a.status_code for a in answers} == {404}
    assert {a.content for a in answers} == {NOT_FOUND}


def test_writes_are_refused_on_share_routes(shared: dict[str, Any]) -> None:
    events = AuditEvent.objects.count()
    for method in ("post", "put", "delete"):
        assert getattr(Client(), method)(f"/s/{shared['token']}/").status_code == 405
    assert AuditEvent.objects.count() == events


def test_each_link_is_rate_limited(shared: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "share_windows", LinkWindows(Rate(limit=3, period_seconds=60)))
    _, other_token = _link(shared["org"])
    client = Client()
    with time_machine.travel(timezone.now().replace(second=1), tick=False):
        codes = [client.get(f"/s/{shared['token']}/").status_code for _ in range(4)]
        limited = client.get(f"/s/{shared['token']}/kpis/{shared['shown'].pk}.svg")
        assert client.get(f"/s/{other_token}/").status_code == 200
    assert codes == [200, 200, 200, 429]
    assert limited.status_code == 429 and limited["Retry-After"] == "59"
