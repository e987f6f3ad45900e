"""Annotations: the rules of a note, who may delete it, the audit trail, and the reads
(one KPI's notes newest first; the newest note in each KPI's compare period, in one query)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Forbidden, NotFound, ValidationFailed
from pulseboard.history.annotations import (
    MAX_TEXT,
    annotation_add,
    annotation_delete,
    annotation_get,
    annotation_list,
    newest_in_window,
)
from pulseboard.history.models import Annotation
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def author() -> Membership:
    return MembershipFactory()


@pytest.fixture
def kpi(author: Membership) -> Kpi:
    return KpiFactory(org=author.org, title="Uptime")


def as_user(membership: Membership) -> Actor:
    return Actor.for_user(membership.user)


# --- add ----------------------------------------------------------------------------------------


def test_a_note_defaults_to_now_is_stripped_and_names_its_author(
    kpi: Kpi, author: Membership
) -> None:
    note = annotation_add(kpi=kpi, actor=as_user(author), text="  Deploy of v2.3\r\nrolled back  ")
    note.refresh_from_db()
    assert note.at == NOW and note.org_id == kpi.org_id
    assert note.text == "Deploy of v2.3\nrolled back"
    assert note.author_id == author.user_id


def test_adding_a_note_is_audited_on_the_kpi_in_the_same_transaction(
    kpi: Kpi, author: Membership
) -> None:
    at = NOW - timedelta(hours=3)
    note = annotation_add(kpi=kpi, actor=as_user(author), text="Outage at the provider", at=at)
    event = AuditEvent.objects.get(action="annotation.added")
    assert (event.org_id, event.target_type, event.target_id) == (kpi.org_id, "kpi", kpi.pk)
    assert event.actor_id == str(author.user_id)
    assert event.after == {
        "annotation_id": note.pk,
        "at": at.isoformat(),
        "text": "Outage at the provider",
        "author_id": author.user_id,
    }


def test_a_token_writes_a_note_without_an_author(kpi: Kpi) -> None:
    token = Actor(kind="token", id="tok1", label="token:ci")  # type: ignore[arg-type]
    note = annotation_add(kpi=kpi, actor=token, text="Release 42")
    assert note.author_id is None
    assert AuditEvent.objects.get(action="annotation.added").actor_label == "token:ci"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "text is empty"),
        ("   \n\t  ", "text is empty"),
        ("x" * (MAX_TEXT + 1), f"text is {MAX_TEXT + 1} characters long"),
        ("before\x00after", "U+0000 at character 7"),
        ("bell\x07", "U+0007"),
        ("escape \x1b[31mred", "U+001B"),
        ("delete\x7fme", "U+007F"),
        ("c1\x85control", "U+0085"),
        ("lone \ud800 surrogate", "U+D800"),
        (None, "text must be a string"),
        (42, "text must be a string"),
    ],
)
def test_bad_text_is_refused_with_a_message_and_writes_nothing(
    kpi: Kpi, author: Membership, text: object, says: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        annotation_add(kpi=kpi, actor=as_user(author), text=text)
    assert refused.value.status == 422 and says in refused.value.message
    assert "text" in refused.value.errors
    assert not Annotation.objects.exists() and not AuditEvent.objects.exists()


def test_exactly_500_characters_tabs_and_line_breaks_are_fine(kpi: Kpi, author: Membership) -> None:
    text = "a\tb\n" + "x" * (MAX_TEXT - 4)
    assert annotation_add(kpi=kpi, actor=as_user(author), text=text).text == text
    assert annotation_add(kpi=kpi, actor=as_user(author), text="é" * MAX_TEXT).text == "é" * 500


@pytest.mark.parametrize(
    ("at", "says"),
    [
        (NOW + timedelta(days=1, seconds=1), "more than 1 day in the future"),
        (datetime(2030, 1, 1, tzinfo=UTC), "more than 1 day in the future"),
        (datetime(2025, 6, 10, 12, 0), "zone offset"),  # naive: the point of the case
        (datetime(1969, 12, 31, 23, 59, tzinfo=UTC), "1970"),
    ],
)
def test_bad_times_are_refused_and_write_nothing(
    kpi: Kpi, author: Membership, at: datetime, says: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        annotation_add(kpi=kpi, actor=as_user(author), text="fine", at=at)
    assert says in refused.value.message and "at" in refused.value.errors
    assert not Annotation.objects.exists() and not AuditEvent.objects.exists()


def test_a_note_may_be_dated_up_to_one_day_ahead_and_long_ago(kpi: Kpi, author: Membership) -> None:
    ahead = annotation_add(kpi=kpi, actor=as_user(author), text="a", at=NOW + timedelta(days=1))
    old = annotation_add(
        kpi=kpi, actor=as_user(author), text="b", at=datetime(1970, 1, 1, tzinfo=UTC)
    )
    assert ahead.at == NOW + timedelta(days=1) and old.at.year == 1970


# --- delete -------------------------------------------------------------------------------------


@pytest.fixture
def note(kpi: Kpi, author: Membership) -> Annotation:
    added = annotation_add(kpi=kpi, actor=as_user(author), text="Campaign started")
    return annotation_get(org=kpi.org, annotation_id=added.pk)


def test_the_author_deletes_their_note_and_it_is_audited(
    note: Annotation, author: Membership
) -> None:
    annotation_delete(annotation=note, actor=as_user(author), is_admin=False)
    assert not Annotation.objects.exists()
    event = AuditEvent.objects.get(action="annotation.deleted")
    assert (event.target_type, event.target_id) == ("kpi", note.kpi_id)
    assert event.before is not None and event.before["text"] == "Campaign started"
    assert event.before["annotation_id"] == note.pk


def test_an_admin_deletes_anyones_note(note: Annotation, author: Membership) -> None:
    admin = MembershipFactory(org=author.org, role="admin")
    annotation_delete(annotation=note, actor=as_user(admin), is_admin=True)
    assert not Annotation.objects.exists()


def test_another_member_may_not_delete_and_nothing_changes(
    note: Annotation, author: Membership
) -> None:
    other = MembershipFactory(org=author.org)
    with pytest.raises(Forbidden):
        annotation_delete(annotation=note, actor=as_user(other), is_admin=False)
    assert Annotation.objects.filter(pk=note.pk).exists()
    assert not AuditEvent.objects.filter(action="annotation.deleted").exists()


def test_a_note_without_author_is_deleted_by_admins_only(kpi: Kpi, author: Membership) -> None:
    token = Actor(kind="token", id="tok1", label="token:ci")  # type: ignore[arg-type]
    added = annotation_add(kpi=kpi, actor=token, text="Release 42")
    with pytest.raises(Forbidden):
        annotation_delete(annotation=added, actor=as_user(author), is_admin=False)
    with pytest.raises(Forbidden):
        annotation_delete(annotation=added, actor=Actor.system(), is_admin=False)
    annotation_delete(annotation=added, actor=token, is_admin=True)
    assert not Annotation.objects.exists()


def test_another_orgs_note_or_a_malformed_id_is_not_found(note: Annotation) -> None:
    stranger = OrganizationFactory()
    with pytest.raises(NotFound):
        annotation_get(org=stranger, annotation_id=note.pk)
    with pytest.raises(NotFound):
        annotation_get(org=note.kpi.org, annotation_id="no such/id\x00")


# --- list ---------------------------------------------------------------------------------------


def _notes(kpi: Kpi, actor: Actor, *hours_ago: int) -> list[Annotation]:
    return [
        annotation_add(kpi=kpi, actor=actor, text=f"{h} h ago", at=NOW - timedelta(hours=h))
        for h in hours_ago
    ]


def test_a_kpis_notes_come_newest_first_within_since_and_until(
    kpi: Kpi, author: Membership
) -> None:
    _notes(kpi, as_user(author), 5, 1, 30, 10)
    _notes(KpiFactory(org=kpi.org), as_user(author), 2)  # another KPI's
    every = annotation_list(org=kpi.org, kpi=kpi)
    assert [n.text for n in every] == ["1 h ago", "5 h ago", "10 h ago", "30 h ago"]
    ranged = annotation_list(
        org=kpi.org, kpi=kpi, since=NOW - timedelta(hours=10), until=NOW - timedelta(hours=1)
    )
    assert [n.text for n in ranged] == ["5 h ago", "10 h ago"]


def test_the_list_is_scoped_to_the_org(kpi: Kpi, author: Membership) -> None:
    _notes(kpi, as_user(author), 1)
    assert not annotation_list(org=OrganizationFactory(), kpi=kpi).exists()


# --- newest in window ---------------------------------------------------------------------------


def test_newest_in_window_picks_each_kpis_newest_note_inside_its_compare_period(
    author: Membership,
) -> None:
    org, actor = author.org, as_user(author)
    weekly = KpiFactory(org=org, compare_period="7d")
    daily = KpiFactory(org=org, compare_period="1d")
    quiet = KpiFactory(org=org, compare_period="30d")
    _notes(weekly, actor, 100, 30, 24 * 8)  # 30 h ago is the newest; 8 days ago is outside
    _notes(daily, actor, 30)  # outside its one day
    annotation_add(kpi=daily, actor=actor, text="planned", at=NOW + timedelta(hours=2))
    found = newest_in_window(org=org, kpis=[weekly, daily, quiet], now=NOW)
    assert set(found) == {weekly.pk}  # a future note is not yet "why it moved"
    assert found[weekly.pk].text == "30 h ago"
    assert found[weekly.pk].author.display_name == author.user.display_name


def test_newest_in_window_breaks_ties_at_one_instant_by_the_later_write(
    kpi: Kpi, author: Membership
) -> None:
    at = NOW - timedelta(hours=1)
    annotation_add(kpi=kpi, actor=as_user(author), text="first", at=at)
    with time_machine.travel(NOW + timedelta(seconds=5), tick=False):
        annotation_add(kpi=kpi, actor=as_user(author), text="second", at=at)
    assert newest_in_window(org=kpi.org, kpis=[kpi], now=NOW)[kpi.pk].text == "second"


def test_newest_in_window_reads_nothing_of_another_org(kpi: Kpi, author: Membership) -> None:
    _notes(kpi, as_user(author), 1)
    assert newest_in_window(org=OrganizationFactory(), kpis=[kpi], now=NOW) == {}
    assert newest_in_window(org=kpi.org, kpis=[], now=NOW) == {}


def test_an_unreadable_compare_period_falls_back_to_seven_days(author: Membership) -> None:
    odd = KpiFactory(org=author.org, compare_period="soon")
    _notes(odd, as_user(author), 24 * 6, 24 * 8)
    assert newest_in_window(org=author.org, kpis=[odd], now=NOW)[odd.pk].text == "144 h ago"


@pytest.mark.parametrize("size", [1, 25])
def test_newest_in_window_is_one_query_whatever_the_number_of_kpis(
    author: Membership, django_assert_num_queries: Any, size: int
) -> None:
    org, actor = author.org, as_user(author)
    periods = ["1d", "7d", "30d"]
    kpis = [KpiFactory(org=org, compare_period=periods[i % 3]) for i in range(size)]
    for kpi in kpis:
        _notes(kpi, actor, 2, 5, 20)
    with django_assert_num_queries(1):
        found = newest_in_window(org=org, kpis=kpis, now=NOW)
        names = {pk: note.author.display_name for pk, note in found.items()}  # author joined
    assert len(found) == size and set(names.values()) == {author.user.display_name}
    assert {note.text for note in found.values()} == {"2 h ago"}
