"""The webhook's fast write path (connectors/ingest.py): same rows as ``value_record``,
two statements on a warm cache, and a cache that never lets a stale secret write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.connectors.signing import Written, bind_webhook, signed_headers
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors import ingest
from pulseboard.connectors.models import Source
from pulseboard.connectors.services import secrets_rotate_keys, webhook_secret_rotate
from pulseboard.core.actors import Actor
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi, StatusChange, TargetEntry


def post(kpi: Kpi, secret: str, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    headers = {k: v for k, v in signed_headers(secret, body).items() if k != "content-type"}
    return Client().post(
        reverse("hooks-kpi", kwargs={"kpi_id": kpi.pk}),
        body,
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    ingest.targets_forget_all()


@pytest.mark.django_db(transaction=True)
def test_a_delivery_on_a_warm_cache_is_one_locking_select_and_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pulseboard.connectors.services.PRUNE_ONE_IN", 10**9)
    kpi = KpiFactory()
    secret = bind_webhook(kpi)
    assert post(kpi, secret, {"value": 1}).status_code == 200  # loads the target
    with CaptureQueriesContext(connection) as captured:
        response = post(kpi, secret, {"value": 2})
    assert response.status_code == 200
    statements = [
        q["sql"].split()[0]
        for q in captured.captured_queries
        if q["sql"].split()[0] not in ("BEGIN", "COMMIT")
    ]
    # PostgreSQL: the inserts are CTEs of the UPDATE. SQLite: one plain statement per row.
    expected = (
        ["SELECT", "WITH"]
        if connection.vendor == "postgresql"
        else ["SELECT"] + ["INSERT"] * 3 + ["UPDATE"]
    )
    assert statements == expected
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2


def test_a_webhook_write_is_the_write_value_record_makes(db: None) -> None:
    hooked, manual = KpiFactory(threshold=10.0), KpiFactory(threshold=10.0)
    secret = bind_webhook(hooked)
    at = datetime.now(UTC) - timedelta(minutes=3)
    for index, (kpi, value) in enumerate(
        ((hooked, 12.0), (hooked, 4.0), (manual, 12.0), (manual, 4.0))
    ):
        when = at + timedelta(seconds=index % 2)
        if kpi is hooked:
            assert post(kpi, secret, {"value": value, "observed_at": when.isoformat()}).json()[
                "applied"
            ]
        else:
            value_record(
                kpi=kpi, value=value, observed_at=when, source="webhook", actor=Actor.system("t")
            )
    one, other = (Kpi.objects.get(pk=k.pk) for k in (hooked, manual))
    fields = (
        "current_value",
        "observed_at",
        "status",
        "status_since",
        "sparkline",
    )
    assert [getattr(one, f) for f in fields] == [getattr(other, f) for f in fields]
    assert one.status == "red"
    # Backdated rows make the KPI due at the moment of the write (which differs here).
    assert one.reevaluate_at is not None and other.reevaluate_at is not None

    def rows(kpi: Kpi) -> list[Any]:
        return [
            list(
                KpiHistory.objects.filter(kpi=kpi)
                .order_by("observed_at")
                .values_list("value", "observed_at", "status", "source")
            ),
            list(
                StatusChange.objects.filter(kpi=kpi)
                .order_by("at")
                .values_list("from_status", "to_status", "at", "cause")
            ),
            [
                e.after
                for e in AuditEvent.objects.filter(
                    target_id=kpi.pk, action="value.recorded"
                ).order_by("id")
            ],
        ]

    assert rows(one) == rows(other)


def test_a_delivery_is_judged_by_the_target_in_force_when_observed(db: None) -> None:
    kpi = KpiFactory(threshold=10.0)
    secret = bind_webhook(kpi)
    TargetEntry.objects.create(
        org_id=kpi.org_id,
        kpi=kpi,
        effective_from=datetime.now(UTC) - timedelta(days=1),
        threshold=100.0,
    )
    assert post(kpi, secret, {"value": 50}).status_code == 200
    assert KpiHistory.objects.get(kpi=kpi).status == "red"


def test_a_re_encrypted_secret_with_a_warm_cache_still_delivers(db: None) -> None:
    kpi = KpiFactory()
    secret = bind_webhook(kpi)
    assert post(kpi, secret, {"value": 1}).status_code == 200
    before = Source.objects.get(kpi=kpi).secret_encrypted
    secrets_rotate_keys()
    assert Source.objects.get(kpi=kpi).secret_encrypted != before
    assert post(kpi, secret, {"value": 2}).status_code == 200
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2


def test_a_cached_secret_rotated_elsewhere_never_writes_and_the_new_one_does(db: None) -> None:
    kpi = KpiFactory()
    secret = bind_webhook(kpi)
    assert post(kpi, secret, {"value": 1}).status_code == 200  # cached with the old secret
    new_secret = webhook_secret_rotate(kpi=kpi, actor=Actor.system("test")).secret
    written = Written.now(kpi)
    assert post(kpi, secret, {"value": 2}).status_code == 401
    assert Written.now(kpi) == written
    assert post(kpi, new_secret, {"value": 3}).status_code == 200
    assert Kpi.objects.get(pk=kpi.pk).current_value == 3
