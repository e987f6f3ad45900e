"""Notes on the KPI page: the list under the chart (org time zone, author), the markers on the
chart, adding as any member, deleting as the author or an admin, refusals writing nothing,
another org's KPI or note a 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory, KpiHistoryFactory, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.annotations import annotation_add
from pulseboard.history.models import Annotation
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.web.charts import Marker, history_chart

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> object:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def kpi(admin: Membership) -> Kpi:
    admin.org.timezone = "Europe/Berlin"
    admin.org.save()
    kpi = KpiFactory(org=admin.org, title="Signups")
    for days in (20, 10, 1):
        KpiHistoryFactory(kpi=kpi, value=float(days), observed_at=NOW - timedelta(days=days))
    return kpi


def detail(client: Client, kpi: Kpi) -> str:
    response = client.get(reverse("web:kpi-detail", args=[kpi.pk]))
    assert response.status_code == 200
    return response.content.decode()


def add_url(kpi: Kpi) -> str:
    return reverse("web:annotation-add", args=[kpi.pk])


def delete_url(note: Annotation) -> str:
    return reverse("web:annotation-delete", args=[note.pk])


def note_by(membership: Membership, kpi: Kpi, text: str, days_ago: float = 5) -> Annotation:
    return annotation_add(
        kpi=kpi,
        actor=Actor.for_user(membership.user),
        text=text,
        at=NOW - timedelta(days=days_ago),
    )


def counts() -> tuple[int, int]:
    events = AuditEvent.objects.filter(action__startswith="annotation.")
    return Annotation.objects.count(), events.count()


def notes_section(page: str) -> str:
    start = page.index('id="annotations"')
    return page[start : page.index("</section>", start)]


# --- the page -----------------------------------------------------------------------------------


def test_the_page_lists_notes_newest_first_in_the_org_zone_with_the_author(
    member_client: Client, member: Membership, admin: Membership, kpi: Kpi
) -> None:
    admin.user.name = "Ana Admin"
    admin.user.save()
    note_by(admin, kpi, "Pricing page <b>relaunch</b>", days_ago=5)
    note_by(member, kpi, "Newsletter went out", days_ago=2)
    section = notes_section(detail(member_client, kpi))
    assert section.index("Newsletter went out") < section.index("Pricing page")
    assert "Pricing page &lt;b&gt;relaunch&lt;/b&gt;" in section  # escaped
    # 12:00 UTC is 14:00 in Berlin (summer time).
    assert "5 Jun 2025, 14:00" in section and "Ana Admin" in section
    assert member.user.email in section  # no name set: the e-mail stands in


def test_the_chart_has_one_marker_with_a_title_per_note_in_its_span(
    member_client: Client, member: Membership, kpi: Kpi
) -> None:
    note_by(member, kpi, "Outage & recovery", days_ago=5)
    note_by(member, kpi, "Too old for the chart", days_ago=60)  # before the first value
    body = detail(member_client, kpi)
    chart = body[
        body.index('<svg class="chart"') : body.index("</svg>", body.index('<svg class="chart"'))
    ]
    assert chart.count('class="chart-marker"') == 1
    assert "<title>5 Jun 2025, 14:00 · Outage &amp; recovery — " in chart
    assert "Too old" not in chart


def test_the_delete_button_shows_for_the_author_and_admins_only(
    member_client: Client, admin_client: Client, member: Membership, admin: Membership, kpi: Kpi
) -> None:
    mine = note_by(member, kpi, "mine")
    theirs = note_by(admin, kpi, "the admin's")
    as_member = detail(member_client, kpi)
    assert delete_url(mine) in as_member and delete_url(theirs) not in as_member
    assert 'data-confirm="Delete this note?' in as_member
    as_admin = detail(admin_client, kpi)
    assert delete_url(mine) in as_admin and delete_url(theirs) in as_admin


def test_the_notes_follow_the_range_and_the_form_is_there_for_members(
    member_client: Client, member: Membership, kpi: Kpi
) -> None:
    note_by(member, kpi, "Last quarter note", days_ago=60)
    url = reverse("web:kpi-detail", args=[kpi.pk])
    recent = notes_section(member_client.get(url + "?range=30d").content.decode())
    assert "Last quarter note" not in recent and "No notes in this range" in recent
    assert f'action="{add_url(kpi)}"' in recent
    every = notes_section(member_client.get(url + "?range=all").content.decode())
    assert "Last quarter note" in every


# --- add ----------------------------------------------------------------------------------------


def test_a_member_adds_a_note_now_and_lands_back_on_the_page(
    member_client: Client, member: Membership, kpi: Kpi
) -> None:
    response = member_client.post(
        add_url(kpi), {"text": "  Campaign started\r\nin Spain ", "at": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:kpi-detail", args=[kpi.pk]) + "#annotations"
    note = Annotation.objects.get()
    assert note.text == "Campaign started\nin Spain" and note.at == NOW
    assert note.author_id == member.user_id
    event = AuditEvent.objects.get(action="annotation.added")
    assert event.actor_id == str(member.user_id) and event.target_id == kpi.pk


def test_a_typed_time_is_read_in_the_org_zone(member_client: Client, kpi: Kpi) -> None:
    response = member_client.post(add_url(kpi), {"text": "deploy", "at": "2025-06-09T08:30"})
    assert response.status_code == 302
    assert Annotation.objects.get().at == datetime(2025, 6, 9, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"text": ""}, "text is empty"),
        ({"text": " \r\n "}, "text is empty"),
        ({"text": "x" * 501}, "501 characters long"),
        ({"text": "bell \x07"}, "U+0007"),
        ({"text": "nul \x00"}, "Null characters are not allowed"),
        ({"text": "ok", "at": "2025-06-11T14:01"}, "more than 1 day in the future"),  # Berlin
        ({"text": "ok", "at": "next week"}, "Enter a valid date/time"),
        # 02:30 on 30 March 2025 was skipped in Berlin (clocks went forward).
        ({"text": "ok", "at": "2025-03-30T02:30"}, "couldn\u2019t be interpreted"),
        ({"text": "ok", "at": "1969-12-31T10:00"}, "1970"),
    ],
)
def test_bad_input_comes_back_with_the_reason_and_writes_nothing(
    member_client: Client, kpi: Kpi, data: dict[str, str], says: str
) -> None:
    response = member_client.post(add_url(kpi), data)
    assert response.status_code == 422
    body = response.content.decode()
    assert says in body and 'name="text"' in body
    assert counts() == (0, 0)


def test_the_refused_text_is_kept_in_the_form(member_client: Client, kpi: Kpi) -> None:
    response = member_client.post(add_url(kpi), {"text": "keep me", "at": "2030-01-01T00:00"})
    assert response.status_code == 422 and "keep me</textarea>" in response.content.decode()


def test_a_member_cannot_note_a_draft_but_an_admin_can(
    member_client: Client, admin_client: Client, admin: Membership
) -> None:
    draft = KpiFactory(org=admin.org, published=False)
    assert member_client.post(add_url(draft), {"text": "x"}).status_code == 404
    assert counts() == (0, 0)
    assert admin_client.post(add_url(draft), {"text": "x"}).status_code == 302


def test_the_form_needs_a_csrf_token(member: Membership, kpi: Kpi) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    assert client.post(add_url(kpi), {"text": "x"}).status_code == 403
    assert counts() == (0, 0)


def test_a_get_is_not_allowed(member_client: Client, kpi: Kpi) -> None:
    assert member_client.get(add_url(kpi)).status_code == 405


# --- delete -------------------------------------------------------------------------------------


def test_the_author_deletes_their_note(member_client: Client, member: Membership, kpi: Kpi) -> None:
    note = note_by(member, kpi, "mine")
    response = member_client.post(delete_url(note))
    assert response.status_code == 302 and response["Location"].endswith("#annotations")
    assert counts() == (0, 2)  # added and deleted, both audited
    assert AuditEvent.objects.get(action="annotation.deleted").actor_id == str(member.user_id)


def test_an_admin_deletes_a_members_note(
    admin_client: Client, member: Membership, kpi: Kpi
) -> None:
    note = note_by(member, kpi, "theirs")
    assert admin_client.post(delete_url(note)).status_code == 302
    assert not Annotation.objects.exists()


def test_another_member_gets_403_and_nothing_changes(
    member_client: Client, admin: Membership, kpi: Kpi
) -> None:
    note = note_by(admin, kpi, "the admin's")
    response = member_client.post(delete_url(note))
    assert response.status_code == 403 and "Only the author" in response.content.decode()
    assert counts() == (1, 1)


def test_a_note_on_a_draft_is_404_for_members(
    member_client: Client, member: Membership, admin: Membership
) -> None:
    draft = KpiFactory(org=admin.org, published=False)
    note = note_by(member, draft, "written before it went back to draft")
    assert member_client.post(delete_url(note)).status_code == 404
    assert counts() == (1, 1)


# --- tenancy ------------------------------------------------------------------------------------


def test_another_orgs_kpi_and_note_are_404(member: Membership, kpi: Kpi) -> None:
    note = note_by(member, kpi, "private note")
    stranger = MembershipFactory(role="admin")
    client = Client()
    client.force_login(stranger.user)
    for response in (client.post(add_url(kpi), {"text": "x"}), client.post(delete_url(note))):
        assert response.status_code == 404
        assert "private note" not in response.content.decode()
    assert counts() == (1, 1)


def test_malformed_ids_are_404(member_client: Client) -> None:
    assert member_client.post("/kpis/bad%00id/annotations/", {"text": "x"}).status_code == 404
    assert member_client.post("/annotations/bad%00id/delete/").status_code == 404


# --- the chart's markers (web/charts.py) --------------------------------------------------------


def test_markers_are_escaped_vertical_lines_inside_the_span_only() -> None:
    points = [(NOW - timedelta(days=2), 1.0), (NOW, 3.0)]
    markers = [
        Marker(at=NOW - timedelta(days=1), label='deploy "v2" <now>'),
        Marker(at=NOW + timedelta(days=1), label="after the last point"),
        Marker(at=NOW - timedelta(days=2), label="on the first point"),
    ]
    svg = history_chart(points, title="t", tick_label=lambda v, s: str(v), markers=markers)
    assert svg.count('class="chart-marker"') == 2
    assert "<title>deploy &quot;v2&quot; &lt;now&gt;</title>" in svg
    assert "after the last point" not in svg
    # The middle of a two-day span is the middle of the plot area (72..888).
    assert 'x1="480.0" x2="480.0"' in svg


def test_no_markers_without_a_time_span() -> None:
    one_point = history_chart(
        [(NOW, 1.0)], title="t", tick_label=lambda v, s: str(v), markers=[Marker(NOW, "x")]
    )
    assert one_point and "chart-marker" not in one_point
    assert (
        history_chart([], title="t", tick_label=lambda v, s: str(v), markers=[Marker(NOW, "x")])
        == ""
    )
