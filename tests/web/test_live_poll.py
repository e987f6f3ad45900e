"""The poll fast path: an unchanged board answers 304 after ONE query, before the session.

A page carries a signed poll pass bound to the browser's session cookie; a poll with a
valid pass and a matching If-None-Match ends in ``LivePollMiddleware``. Anything else
(changed board, tampered, expired, foreign-session or misplaced pass) takes the full path.
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import KpiFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.web.live import POLL_PASS_HEADER, POLL_PASS_SECONDS

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def poll_headers(page: str, marker: str = "data-live-poll") -> dict[str, str]:
    """The hx-headers of the polled container of a rendered page."""
    found = re.search(r'hx-headers="([^"]*)"[^>]*' + marker, page)
    assert found, "no polled container"
    return dict(json.loads(html.unescape(found.group(1))))


def meta(headers: dict[str, str]) -> dict[str, str]:
    out = dict(HTMX)
    out["HTTP_IF_NONE_MATCH"] = headers["If-None-Match"]
    if POLL_PASS_HEADER in headers:
        out["HTTP_X_PULSEBOARD_POLL"] = headers[POLL_PASS_HEADER]
    return out


def test_unchanged_home_poll_is_one_query(member_client: Client, member: Membership) -> None:
    KpiFactory.create_batch(5, org=member.org)
    headers = poll_headers(member_client.get(reverse("web:home")).content.decode())
    assert headers.get(POLL_PASS_HEADER)
    with CaptureQueriesContext(connection) as seen:
        answer = member_client.get(reverse("web:live-home"), **meta(headers))
    assert answer.status_code == 304 and answer.content == b""
    assert answer["ETag"] == headers["If-None-Match"]
    assert len(seen.captured_queries) == 1
    assert "indicators_kpi" in seen.captured_queries[0]["sql"]
    assert not answer.cookies  # the session was not touched


def test_changed_board_takes_the_full_path_and_renders(
    member_client: Client, member: Membership
) -> None:
    kpi: Kpi = KpiFactory(org=member.org, title="Uptime")
    headers = poll_headers(member_client.get(reverse("web:home")).content.decode())
    value_record(
        kpi=kpi, value=42.0, observed_at=clock.now(), source="manual", actor=Actor.system()
    )
    answer = member_client.get(reverse("web:live-home"), **meta(headers))
    assert answer.status_code == 200
    assert "Uptime" in answer.content.decode()
    assert answer["ETag"] != headers["If-None-Match"]


def test_detail_and_tv_polls_have_passes_too(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    for page_url, poll_url in (
        (reverse("web:kpi-detail", args=[kpi.pk]), reverse("web:live-kpi", args=[kpi.pk])),
        (reverse("web:tv"), reverse("web:tv-board")),
    ):
        headers = poll_headers(member_client.get(page_url).content.decode())
        with CaptureQueriesContext(connection) as seen:
            answer = member_client.get(poll_url, **meta(headers))
        assert answer.status_code == 304, page_url
        assert len(seen.captured_queries) == 1, page_url


def test_a_pass_only_serves_its_own_session(member: Membership, admin_client: Client) -> None:
    KpiFactory(org=member.org)
    client = Client()
    client.force_login(member.user)
    headers = poll_headers(client.get(reverse("web:home")).content.decode())
    # Signed out: the cookie is gone, the pass is bound to it; the full path refuses.
    client.logout()
    answer = client.get(reverse("web:live-home"), **meta(headers))
    assert answer.status_code == 401
    # Another member's browser with this pass: full path, with that member's own checks.
    with CaptureQueriesContext(connection) as seen:
        admin_client.get(reverse("web:live-home"), **meta(headers))
    assert len(seen.captured_queries) > 1


def test_tampered_misplaced_or_expired_passes_take_the_full_path(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org)
    headers = poll_headers(member_client.get(reverse("web:home")).content.decode())
    good = headers[POLL_PASS_HEADER]
    cases: list[tuple[str, str]] = [
        (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), reverse("web:live-home")),
        ("x" * 5000, reverse("web:live-home")),
        ("\u00e9t\u00e9:::", reverse("web:live-home")),
        (good, reverse("web:live-kpi", args=[kpi.pk])),  # a pass for another board's path
    ]
    for token, url in cases:
        sent = meta(headers) | {"HTTP_X_PULSEBOARD_POLL": token}
        with CaptureQueriesContext(connection) as seen:
            answer = member_client.get(url, **sent)
        assert answer.status_code in (200, 304), token[:20]
        assert len(seen.captured_queries) > 1, token[:20]
    later = clock.now() + timedelta(seconds=POLL_PASS_SECONDS + 5)
    with time_machine.travel(later), CaptureQueriesContext(connection) as seen:
        member_client.get(reverse("web:live-home"), **meta(headers))
    assert len(seen.captured_queries) > 1


def test_a_pass_never_serves_writes_or_other_methods(
    member_client: Client, member: Membership
) -> None:
    KpiFactory(org=member.org)
    headers = poll_headers(member_client.get(reverse("web:home")).content.decode())
    answer = member_client.post(reverse("web:live-home"), **meta(headers))
    assert answer.status_code in (403, 405)


def test_share_boards_carry_no_pass(admin_client: Client, admin: Membership) -> None:
    from pulseboard.sharing.services import share_link_create

    KpiFactory(org=admin.org)
    _, token = share_link_create(org=admin.org, actor=Actor.for_user(admin.user), name="Wall")
    page = Client().get(f"/s/{token}/").content.decode()
    assert POLL_PASS_HEADER not in html.unescape(page)
