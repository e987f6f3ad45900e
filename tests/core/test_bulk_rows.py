"""``rows_insert`` and ``rows_update`` write exactly what the ORM would, on both databases.

Values that an array literal or ``COPY`` text must escape (quotes, braces, commas,
backslashes, tabs, newlines, NULL-looking text, non-ASCII) and real NULLs come back
unchanged; columns not named are left alone; rows of other orgs are not touched.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import Source
from pulseboard.core import clock
from pulseboard.core.bulk_rows import rows_insert, rows_update
from pulseboard.history.models import KpiHistory

pytestmark = pytest.mark.django_db

AWKWARD = [
    "quote \" and ' both",
    "{braces, commas}",
    "back\\slash \\N",
    "tab\tand\nnewline",
    "NULL",
    "",
    "Zürich ✓ 数",
]


def test_inserted_rows_come_back_as_written() -> None:
    kpi = KpiFactory()
    now = clock.now()
    rows = [
        KpiHistory(
            org_id=kpi.org_id,
            kpi=kpi,
            value=index + 0.25,
            observed_at=now - timedelta(minutes=index),
            recorded_at=now,
            status="on_track",
            source=text[:32],
        )
        for index, text in enumerate(AWKWARD)
    ]
    rows_insert(KpiHistory, rows)
    stored = list(
        KpiHistory.objects.filter(kpi=kpi)
        .order_by("-observed_at")
        .values_list("value", "observed_at", "source")
    )
    assert stored == [(row.value, row.observed_at, row.source) for row in rows]


def test_json_and_null_columns_survive_an_insert() -> None:
    kpi = KpiFactory()
    now = clock.now()
    payloads = [{"text": text, "list": [1, None, text]} for text in AWKWARD]
    rows_insert(
        AuditEvent,
        [
            AuditEvent(
                org_id=kpi.org_id,
                actor_kind="system",
                actor_id="bulk",
                actor_label=text[:200],
                action="value.recorded",
                target_type="kpi",
                target_id=kpi.pk,
                before=None,
                after=payload,
                created_at=now,
            )
            for text, payload in zip(AWKWARD, payloads, strict=True)
        ],
    )
    stored = AuditEvent.objects.filter(actor_id="bulk").order_by("id")
    assert [event.after for event in stored] == payloads
    assert [event.actor_label for event in stored] == AWKWARD
    assert all(event.before is None and event.ip is None for event in stored)


def test_update_writes_the_named_columns_of_each_row_only() -> None:
    kpis = [KpiFactory(source="https_get") for _ in AWKWARD]
    sources = list(Source.objects.filter(kpi__in=kpis).order_by("pk"))
    untouched = Source.objects.get(kpi=KpiFactory(source="https_get"))
    before = {s.pk: (s.interval_seconds, s.config) for s in sources}
    now = clock.now()
    for index, (source, text) in enumerate(zip(sources, AWKWARD, strict=True)):
        source.last_error = text
        source.last_error_at = None if index % 2 else now - timedelta(seconds=index)
        source.consecutive_failures = index
        source.lease_owner = ""
        source.interval_seconds = 999_999  # not named below: must not be written
    rows_update(
        Source, ["last_error", "last_error_at", "consecutive_failures", "lease_owner"], sources
    )
    for index, source in enumerate(sources):
        stored = Source.objects.get(pk=source.pk)
        assert stored.last_error == AWKWARD[index]
        assert stored.last_error_at == (None if index % 2 else now - timedelta(seconds=index))
        assert stored.consecutive_failures == index
        assert (stored.interval_seconds, stored.config) == before[source.pk]
    again = Source.objects.get(pk=untouched.pk)
    assert (again.last_error, again.consecutive_failures) == (
        untouched.last_error,
        untouched.consecutive_failures,
    )


def test_an_update_whose_values_are_all_null_is_written() -> None:
    kpis = [KpiFactory(source="https_get") for _ in range(3)]
    now = clock.now()
    Source.objects.filter(kpi__in=kpis).update(leased_until=now, last_error_at=now)
    sources = list(Source.objects.filter(kpi__in=kpis))
    for source in sources:
        source.leased_until = None
        source.last_error_at = None
    rows_update(Source, ["leased_until", "last_error_at"], sources)
    assert not Source.objects.filter(kpi__in=kpis, leased_until__isnull=False).exists()
    assert not Source.objects.filter(kpi__in=kpis, last_error_at__isnull=False).exists()


def test_nothing_to_write_is_no_statement(django_assert_num_queries: object) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        rows_insert(KpiHistory, [])
        rows_update(Source, ["last_error"], [])
        rows_update(Source, [], [Source(pk="x")])


def test_an_update_larger_than_one_statement_s_parameters_is_written_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A tiny parameter limit splits the SQLite statement; PostgreSQL sends arrays anyway.
    monkeypatch.setattr("pulseboard.core.bulk_rows._sqlite_parameter_limit", lambda: 5)
    kpis = [KpiFactory(source="https_get") for _ in range(4)]
    sources = list(Source.objects.filter(kpi__in=kpis))
    for index, source in enumerate(sources):
        source.consecutive_failures = 10 + index
    rows_update(Source, ["consecutive_failures"], sources)
    assert sorted(
        Source.objects.filter(kpi__in=kpis).values_list("consecutive_failures", flat=True)
    ) == [10, 11, 12, 13]
