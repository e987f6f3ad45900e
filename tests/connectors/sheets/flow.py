"""The Sheets flow the tests drive against the Google stand-in: connect, bind, pull.

``pull`` goes the way the worker and "Pull now" go (``connectors.pulling.pull_one``): the
pull's context, a refreshed token included, is prepared on this thread (the test's
transaction) before the connector awaits, and a token Google ended early is retried
once there too. Nothing is patched.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.test import Client
from tests.connectors.google_standin import GoogleStandIn, connect_through_web

from pulseboard.connectors.base import Observation, PullError
from pulseboard.connectors.models import GoogleConnection, Source
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.connectors.pull_services import PullOutcome
from pulseboard.connectors.pulling import on_calling_thread, pull_one
from pulseboard.connectors.services import source_bind
from pulseboard.core.actors import Actor
from pulseboard.core.safe_http import SafeSession
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership

SHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
SHEET_URL = f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=0"
BASE_URL = "http://127.0.0.1:8000"


def connected(client: Client, google: GoogleStandIn, membership: Membership) -> GoogleConnection:
    client.force_login(membership.user)
    connect_through_web(client, google, BASE_URL)
    client.logout()
    return GoogleConnection.objects.get(org=membership.org, user=membership.user)


def bind(
    kpi: Kpi, membership: Membership, connection: GoogleConnection, **overrides: Any
) -> Source:
    config = {
        "connection_id": connection.pk,
        "spreadsheet": SHEET_URL,
        "tab": "Sheet1",
        "cell": "b12",
        **overrides,
    }
    source_bind(kpi=kpi, actor=Actor.for_user(membership.user), kind="sheets", config=config)
    return Source.objects.get(kpi=kpi)


def pull(source: Source) -> Observation:
    """One pull of ``source`` as the runner does it; a failed pull raises its ``PullError``."""
    source.refresh_from_db()

    async def run() -> PullOutcome:
        async with SafeSession(fetch_policy()) as session:
            return await pull_one(source, session, in_database=on_calling_thread)

    outcome = async_to_sync(run)()
    if outcome.error:
        raise PullError(outcome.error)
    assert outcome.value is not None
    return Observation(value=outcome.value, observed_at=outcome.observed_at)


def pull_error(source: Source) -> str:
    try:
        observation = pull(source)
    except PullError as exc:
        return exc.message
    raise AssertionError(f"the pull succeeded: {observation}")
