"""Live pages: change stamps in one query, ETags, 304 on an unchanged poll, the board partial,
tenancy, hostile If-None-Match headers, and every change that must show (value, edit,
publish, unpublish, delete, annotation, goals)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import CycleFactory, KeyResultFactory, KpiFactory, ObjectiveFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.annotations import annotation_add
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.services import kpi_delete, kpi_set_published
from pulseboard.orgs.models import Membership
from pulseboard.web.live import (
    MAX_IF_NONE_MATCH,
    board_stamp,
    goals_stamp,
    if_none_match,
    kpi_stamp,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def record(kpi: Kpi, value: float) -> None:
    value_record(
        kpi=kpi, value=value, observed_at=clock.now(), source="manual", actor=Actor.system()
    )


def poll(client: Client, url: str, etag: str | None = None, **headers: Any) -> Any:
    extra = dict(HTMX, **headers)
    if etag is not None:
        extra["HTTP_IF_NONE_MATCH"] = etag
    return client.get(url, **extra)


def warm(client: Client) -> None:
    # The first request of a fresh session saves its idle-refresh mark (orgs/middleware.py).
    client.get(reverse("web:live-home"), **HTMX)


# --- stamps: one query, and they move with every change ----------------------------------


def test_board_stamp_is_one_query(member: Membership, django_assert_num_queries: Any) -> None:
    KpiFactory.create_batch(3, org=member.org)
    with django_assert_num_queries(1):
        board_stamp(member.org)


def test_kpi_and_goals_stamps_are_one_query_each(
    member: Membership, django_assert_num_queries: Any
) -> None:
    kpi = KpiFactory(org=member.org)
    with django_assert_num_queries(1):
        assert kpi_stamp(member.org, kpi.pk)
    with django_assert_num_queries(1):
        goals_stamp(member.org)


def test_board_stamp_moves_on_value_publish_unpublish_delete_and_annotation(
    admin: Membership,
) -> None:
    org = admin.org
    kpi = KpiFactory(org=org)
    other = KpiFactory(org=org)
    seen = [board_stamp(org)]

    def changed() -> None:
        stamp = board_stamp(org)
        assert stamp not in seen
        seen.append(stamp)

    actor = Actor.system()
    record(kpi, 12.0)
    changed()
    kpi_set_published(kpi=kpi, actor=actor, published=False)
    changed()
    kpi_set_published(kpi=kpi, actor=actor, published=True)
    changed()
    annotation_add(kpi=kpi, actor=actor, text="Release day", at=clock.now())
    changed()
    kpi_delete(kpi=other, actor=actor)
    changed()


def test_board_stamp_ignores_other_orgs(member: Membership) -> None:
    before = board_stamp(member.org)
    record(KpiFactory(), 5.0)
    assert board_stamp(member.org) == before


def test_kpi_stamp_is_empty_for_another_orgs_kpi_and_odd_ids(member: Membership) -> None:
    foreign = KpiFactory()
    assert kpi_stamp(member.org, foreign.pk) == ()
    assert kpi_stamp(member.org, "x" * 5000) == ()
    assert kpi_stamp(member.org, "\x00'; drop") == ()


def test_goals_stamp_moves_when_a_key_result_changes(member: Membership) -> None:
    cycle = CycleFactory(org=member.org)
    objective = ObjectiveFactory(org=member.org, cycle=cycle)
    before = goals_stamp(member.org)
    KeyResultFactory(org=member.org, objective=objective)
    assert goals_stamp(member.org) != before


# --- the conditional GET -----------------------------------------------------------------


def test_home_page_carries_the_poll_attributes_with_its_etag(
    member_client: Client, member: Membership
) -> None:
    KpiFactory(org=member.org, title="Uptime")
    page = member_client.get(reverse("web:home")).content.decode()
    assert 'id="live-board"' in page
    assert f'hx-get="{reverse("web:live-home")}"' in page
    assert 'hx-trigger="every 10s"' in page
    assert re.search(r'hx-headers="\{&quot;If-None-Match&quot;: &quot;\\&quot;[0-9a-f]+', page)


def test_unchanged_poll_is_304_without_body_after_one_stamp_query(
    member_client: Client, member: Membership
) -> None:
    KpiFactory.create_batch(3, org=member.org)
    warm(member_client)
    first = poll(member_client, reverse("web:live-home"))
    assert first.status_code == 200
    etag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
    assert "no-cache" in first["Cache-Control"]
    with CaptureQueriesContext(connection) as seen:
        again = poll(member_client, reverse("web:live-home"), etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    # The session, its user and the memberships are what every signed-in request reads
    # (django.contrib.sessions/auth, orgs/middleware.py); the poll adds exactly one query.
    board = [q["sql"] for q in seen.captured_queries if "indicators_kpi" in q["sql"]]
    assert len(board) == 1
    others = [q["sql"] for q in seen.captured_queries if q["sql"] not in board]
    assert all(
        any(t in sql for t in ("django_session", "orgs_user", "orgs_membership")) for sql in others
    ), others
    assert len(seen.captured_queries) <= 4


def test_the_304_path_itself_runs_at_most_one_query(
    member: Membership, rf: Any, django_assert_max_num_queries: Any
) -> None:
    from pulseboard.web.live import HOME, etag_for, matches

    KpiFactory.create_batch(2, org=member.org)
    request = rf.get("/live/home/")
    request.user = member.user
    request.org = member.org
    request.membership = member
    etag = etag_for(request, "home", board_stamp(member.org))
    request.META["HTTP_IF_NONE_MATCH"] = etag
    with django_assert_max_num_queries(1):
        assert matches(request, etag_for(request, HOME.kind, HOME.stamp(member.org)))


def test_changed_board_answers_200_with_only_the_board(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, title="Sign-ups", threshold=10)
    warm(member_client)
    etag = poll(member_client, reverse("web:live-home"))["ETag"]
    record(kpi, 42.0)
    fresh = poll(member_client, reverse("web:live-home"), etag)
    assert fresh.status_code == 200
    assert fresh["ETag"] != etag
    body = fresh.content.decode()
    assert body.lstrip().startswith('<div id="live-board"')
    assert "<html" not in body and "Sign-ups" in body and "42.0" in body
    # The new board polls on with the new ETag.
    assert fresh["ETag"].strip('"') in body


def test_poll_of_another_role_or_query_does_not_match(
    admin_client: Client, member_client: Client, member: Membership
) -> None:
    KpiFactory(org=member.org)
    warm(member_client)
    warm(admin_client)
    etag = poll(member_client, reverse("web:live-home"))["ETag"]
    assert poll(admin_client, reverse("web:live-home"), etag).status_code == 200
    goals = poll(member_client, reverse("web:live-goals"))["ETag"]
    assert poll(member_client, reverse("web:live-goals") + "?cycle=x", goals).status_code != 304


def test_detail_poll_is_304_then_200_after_a_value(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, title="NPS")
    url = reverse("web:live-kpi", args=[kpi.pk])
    warm(member_client)
    first = poll(member_client, url)
    assert first.status_code == 200
    assert 'id="live-board"' in first.content.decode()
    assert poll(member_client, url, first["ETag"]).status_code == 304
    record(kpi, 51.0)
    assert poll(member_client, url, first["ETag"]).status_code == 200


def test_detail_poll_of_another_orgs_kpi_is_404(member_client: Client) -> None:
    foreign = KpiFactory(title="Theirs")
    response = poll(member_client, reverse("web:live-kpi", args=[foreign.pk]), "*")
    assert response.status_code == 404
    assert b"Theirs" not in response.content


def test_detail_poll_of_a_draft_is_404_for_members(
    member_client: Client, member: Membership
) -> None:
    draft = KpiFactory(org=member.org, published=False)
    assert poll(member_client, reverse("web:live-kpi", args=[draft.pk])).status_code == 404


def test_goals_poll_renders_the_board_and_moves_with_goals(
    member_client: Client, member: Membership
) -> None:
    today = date.today()
    cycle = CycleFactory(
        org=member.org, starts_on=today - timedelta(days=5), ends_on=today + timedelta(days=5)
    )
    objective = ObjectiveFactory(org=member.org, cycle=cycle, title="Grow")
    warm(member_client)
    first = poll(member_client, reverse("web:live-goals"))
    assert first.status_code == 200 and "Grow" in first.content.decode()
    assert poll(member_client, reverse("web:live-goals"), first["ETag"]).status_code == 304
    KeyResultFactory(org=member.org, objective=objective, title="Reach 100")
    fresh = poll(member_client, reverse("web:live-goals"), first["ETag"])
    assert fresh.status_code == 200 and "Reach 100" in fresh.content.decode()


def test_signed_out_poll_asks_for_a_reload_instead_of_a_login_page(db: None) -> None:
    for name in ("web:live-home", "web:live-goals", "web:tv-board"):
        response = poll(Client(), reverse(name))
        assert response.status_code == 401
        assert response["HX-Refresh"] == "true"
        assert response.content == b""


def test_poll_refuses_writes(member_client: Client) -> None:
    response = member_client.post(reverse("web:live-home"), **HTMX)
    assert response.status_code == 405


# --- hostile If-None-Match ---------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "x" * 100_000,
        '"' + "a" * (MAX_IF_NONE_MATCH + 10) + '"',
        ", ".join(f'"{n}"' for n in range(500)),
        "garbage",
        '"unterminated',
        "\x00\x01\xff",
        'W/"ok", junk',
        "*, *",
        '"a"b"',
        "ñ",
    ],
)
def test_odd_if_none_match_is_no_match_never_an_error(
    member_client: Client, member: Membership, header: str
) -> None:
    KpiFactory(org=member.org)
    warm(member_client)
    response = poll(member_client, reverse("web:live-home"), header)
    assert response.status_code == 200
    assert 'id="live-board"' in response.content.decode()


def test_if_none_match_parsing(rf: Any) -> None:
    def tags(header: str) -> list[str]:
        return if_none_match(rf.get("/", HTTP_IF_NONE_MATCH=header))

    assert tags('"a", W/"b"') == ['"a"', 'W/"b"']
    assert tags("*") == ["*"]
    assert tags("") == []
    assert tags('"a" "b"') == []


def test_weak_tag_and_star_match(member_client: Client, member: Membership) -> None:
    KpiFactory(org=member.org)
    warm(member_client)
    etag = poll(member_client, reverse("web:live-home"))["ETag"]
    assert poll(member_client, reverse("web:live-home"), "W/" + etag).status_code == 304
    assert poll(member_client, reverse("web:live-home"), f'"nope", {etag}').status_code == 304
    assert poll(member_client, reverse("web:live-home"), "*").status_code == 304
