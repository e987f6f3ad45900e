"""Google connections written and prepared for pulls: refresh, storage at rest, failures.

Runs the real flow against the Google stand-in on 127.0.0.1. ``pull_context_for`` is the
seam: it runs before the pull awaits anything and hands a Sheets pull a live access
token, refreshing and storing it first when the stored one is about to expire; every
failure there is a readable pull error. Connecting and disconnecting through the web
pages are in ``tests/web/test_connections.py``. Nothing is patched.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.test import Client
from tests.connectors.google_standin import GoogleStandIn
from tests.connectors.sheets.flow import bind, connected, pull, pull_error
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.base import PullError
from pulseboard.connectors.models import GoogleConnection, Source
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.connectors.services import pull_context_for
from pulseboard.connectors.sheets.connector import OWNER_LEFT, REVOKED
from pulseboard.connectors.sheets.services import EXPIRY_LEEWAY, access_token_is_fresh
from pulseboard.core import clock
from pulseboard.core.crypto import cipher
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.worker.runner import Worker, WorkerOptions

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires_at", "fresh"),
    [
        (None, False),
        (NOW - timedelta(seconds=1), False),
        (NOW + EXPIRY_LEEWAY, False),
        (NOW + EXPIRY_LEEWAY + timedelta(seconds=1), True),
    ],
)
def test_an_access_token_is_renewed_a_minute_before_it_expires(
    expires_at: datetime | None, fresh: bool
) -> None:
    assert access_token_is_fresh(GoogleConnection(expires_at=expires_at), now=NOW) is fresh


# --- the pull's context ---------------------------------------------------------------------


def expire_stored_token(connection: GoogleConnection) -> None:
    GoogleConnection.objects.filter(pk=connection.pk).update(
        expires_at=clock.now() - timedelta(minutes=1)
    )


def test_the_pull_context_of_a_sheets_source_carries_a_token_refreshed_when_the_stored_one_expired(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    old_token = cipher().decrypt(alice_connection.access_token_encrypted)
    google.expire_access_tokens()
    expire_stored_token(alice_connection)
    context = pull_context_for(source, now=clock.now())
    assert context.connection is not None and context.connection.refreshed
    stored = GoogleConnection.objects.get(pk=alice_connection.pk)
    assert context.connection.access_token == cipher().decrypt(stored.access_token_encrypted)
    assert context.connection.access_token != old_token
    assert context.connection.account == "alice@gmail.example"
    # Google was asked for a new token, and nothing else: the pull has not started.
    assert [r.form["grant_type"] for r in google.recorded("/token")] == [
        "authorization_code",
        "refresh_token",
    ]
    assert google.recorded("/v4/") == []
    assert context.connection.access_token not in repr(context)


def test_a_live_token_is_handed_over_without_asking_google(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    context = pull_context_for(source, now=clock.now())
    assert context.connection is not None and not context.connection.refreshed
    assert context.connection.access_token == cipher().decrypt(
        alice_connection.access_token_encrypted
    )
    assert [r.form["grant_type"] for r in google.recorded("/token")] == ["authorization_code"]
    fresh = pull_context_for(source, now=clock.now(), fresh_credentials=True)
    assert fresh.connection is not None and fresh.connection.refreshed
    assert fresh.connection.access_token != context.connection.access_token
    assert len(google.recorded("/token")) == 2


def test_a_refused_refresh_is_a_readable_pull_error_when_the_context_is_built(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    google.revoke_all()
    expire_stored_token(alice_connection)
    with pytest.raises(PullError) as caught:
        pull_context_for(source, now=clock.now())
    assert caught.value.message == REVOKED
    assert not AuditEvent.objects.filter(action="connection.refreshed").exists()


def test_an_unreachable_token_endpoint_is_a_readable_pull_error(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    expire_stored_token(alice_connection)
    google.stop()
    assert pull_error(source).startswith("could not reach Google's token endpoint")


def test_a_source_whose_connection_was_disconnected_gets_no_connection(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    GoogleConnection.objects.filter(pk=alice_connection.pk).delete()
    source = Source.objects.get(pk=source.pk)
    assert pull_context_for(source, now=clock.now()).connection is None


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_an_expired_token_in_its_database_step_then_reads_the_cell(
    client: Client, google: GoogleStandIn
) -> None:
    admin = MembershipFactory(role="admin")
    connection = connected(client, google, admin)
    kpi = KpiFactory(org=admin.org)
    bind(kpi, admin, connection)
    google.expire_access_tokens()
    expire_stored_token(connection)
    options = WorkerOptions(
        owner="sheets-test", policy=fetch_policy(), poll_seconds=0.05, once=True
    )
    stats = asyncio.run(Worker(options).run())
    assert (stats.ok, stats.failed) == (1, 0)
    assert Kpi.objects.get(pk=kpi.pk).current_value == 1234.5
    stored = GoogleConnection.objects.get(pk=connection.pk)
    (read,) = google.recorded("/v4/")
    assert read.headers["authorization"] == (
        f"Bearer {cipher().decrypt(stored.access_token_encrypted)}"
    )
    assert AuditEvent.objects.filter(action="connection.refreshed").count() == 1


# --- through the pull -----------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_before_the_read_and_stored_encrypted(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    old_token = cipher().decrypt(alice_connection.access_token_encrypted)
    google.expire_access_tokens()
    GoogleConnection.objects.filter(pk=alice_connection.pk).update(
        expires_at=clock.now() - timedelta(minutes=1)
    )
    assert pull(source).value == 1234.5
    refresh = google.recorded("/token")[-1]
    assert refresh.form["grant_type"] == "refresh_token"
    stored = GoogleConnection.objects.get(pk=alice_connection.pk)
    new_token = cipher().decrypt(stored.access_token_encrypted)
    assert new_token != old_token
    assert stored.expires_at is not None and stored.expires_at > clock.now() + timedelta(minutes=30)
    (read,) = google.recorded("/v4/")
    assert read.headers["authorization"] == f"Bearer {new_token}"
    event = AuditEvent.objects.get(action="connection.refreshed")
    assert event.actor_kind == "connector" and event.actor_id == source.pk
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT * FROM connectors_googleconnection")
        rows = repr(cursor.fetchall())
        cursor.execute("SELECT * FROM audit_auditevent")
        rows += repr(cursor.fetchall())
    assert new_token not in rows and refresh.form["refresh_token"] not in rows


def test_a_revoked_grant_fails_the_pull_with_the_reconnect_message(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    google.revoke_all()
    assert pull_error(source) == REVOKED
    assert REVOKED == "the Google connection was revoked — reconnect under Profile → Connections"


def test_a_connection_stops_feeding_kpis_when_its_owner_leaves_the_org(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    Membership.objects.filter(pk=alice.pk).delete()
    assert pull_error(source) == OWNER_LEFT


def test_a_token_no_configured_key_decrypts_is_a_pull_error_not_a_crash(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    GoogleConnection.objects.filter(pk=alice_connection.pk).update(
        access_token_encrypted="gAAAAA-not-ours"
    )
    assert "the stored Google token cannot be decrypted" in pull_error(source)
