"""The Google Sheets connector: binding rules, the one-cell pull, isolation.

Pure parse and bind rules first (no database: ``bind`` checks the connection against the
``BindContext``). The rest runs the real flow against the Google stand-in on 127.0.0.1:
connect through the web pages, bind, pull the way the runner does, disconnect. Token
refresh and the pull's preparation are in ``test_services``. Nothing is patched.
"""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from tests.connectors.google_standin import GoogleStandIn
from tests.connectors.sheets.flow import SHEET_ID, SHEET_URL, bind, connected, pull, pull_error
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.connectors.base import (
    BindContext,
    ConnectionAccess,
    Observation,
    PullContext,
    PullError,
    SourceState,
)
from pulseboard.connectors.models import GoogleConnection, Source
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.connectors.pulling import pull_now
from pulseboard.connectors.registry import CONNECTORS
from pulseboard.connectors.services import source_bind
from pulseboard.connectors.sheets.connector import (
    DISCONNECTED,
    NOT_A_PERSON,
    NOT_YOURS,
    SheetsBindingError,
    SheetsConnector,
    a1_range,
    cell_parse,
    cell_value,
    spreadsheet_id_parse,
    tab_parse,
    values_get_url,
)
from pulseboard.connectors.sheets.selectors import connection_choices
from pulseboard.connectors.sheets.services import connection_disconnect
from pulseboard.connectors.values import ValueParseError
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import cipher
from pulseboard.core.errors import NotFound, ValidationFailed
from pulseboard.core.safe_http import SafeSession
from pulseboard.orgs.models import Membership

sheets = CONNECTORS["sheets"]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- pure: binding fields -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        SHEET_ID,
        f"  {SHEET_ID}  ",
        SHEET_URL,
        f"https://docs.google.com/spreadsheets/d/{SHEET_ID}",
        f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit?usp=sharing",
        f"https://docs.google.com/spreadsheets/u/1/d/{SHEET_ID}/edit",
        f"https://docs.google.com/a/example.com/spreadsheets/d/{SHEET_ID}/edit",
        f"docs.google.com/spreadsheets/d/{SHEET_ID}/edit",
        f"http://docs.google.com/spreadsheets/d/{SHEET_ID}/htmlview",
    ],
)
def test_a_spreadsheet_is_given_by_url_or_id_and_stored_as_the_id(text: str) -> None:
    assert spreadsheet_id_parse(text) == SHEET_ID


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "paste the spreadsheet's URL or its id"),
        ("short", "not a Google Sheets URL"),
        (f"https://evil.example/spreadsheets/d/{SHEET_ID}", "not a Google Sheets URL"),
        (f"https://docs.google.com.evil.example/spreadsheets/d/{SHEET_ID}", "not a Google"),
        ("https://docs.google.com/document/d/abc/edit", "names no spreadsheet"),
        (
            "https://docs.google.com/spreadsheets/d/e/2PACX-1vQ0abcdefghijklmnopqrstuvwxyz/pubhtml",
            "Publish to the web",
        ),
        ("https://docs.google.com/spreadsheets/d/tooshort/edit", "not valid"),
        ("https://[::1/spreadsheets/d/x", "not a spreadsheet URL or id"),
    ],
)
def test_a_spreadsheet_that_is_not_one_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(SheetsBindingError, match=reason):
        spreadsheet_id_parse(text)


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("B12", "B12"),
        ("b12", "B12"),
        (" $B$12 ", "B12"),
        ("AA100", "AA100"),
        ("ZZZ1", "ZZZ1"),
        ("B012", "B12"),
        ("A10000000", "A10000000"),
    ],
)
def test_a_cell_is_one_a1_reference_normalised(text: str, cell: str) -> None:
    assert cell_parse(text) == cell


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("B12:C13", "is a range"),
        ("B:B", "is a range"),
        ("Sheet1!B12", "the tab has its own field"),
        ("", "give one cell"),
        ("12B", "not a cell in A1 notation"),
        ("B", "not a cell in A1 notation"),
        ("AAAA1", "not a cell in A1 notation"),
        ("B0", "rows are numbered from 1"),
        ("B10000001", "beyond the last row"),
        ("R1C1", "not a cell in A1 notation"),
    ],
)
def test_anything_but_one_cell_is_refused(text: str, reason: str) -> None:
    with pytest.raises(SheetsBindingError, match=reason):
        cell_parse(text)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_cell_parse_raises_nothing_but_a_binding_error(text: str) -> None:
    try:
        cell = cell_parse(text)
    except SheetsBindingError:
        return
    assert cell == cell_parse(cell)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_spreadsheet_parse_raises_nothing_but_a_binding_error(text: str) -> None:
    with contextlib.suppress(SheetsBindingError):
        spreadsheet_id_parse(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "give the tab's name"), ("x" * 101, "at most 100"), ("a\tb", "control characters")],
)
def test_a_tab_name_must_be_one_a_sheet_can_have(text: str, reason: str) -> None:
    with pytest.raises(SheetsBindingError, match=reason):
        tab_parse(text)


@pytest.mark.parametrize(
    ("tab", "expected"),
    [("Sheet1", "'Sheet1'!B12"), ("Q3 numbers", "'Q3 numbers'!B12"), ("Bob's", "'Bob''s'!B12")],
)
def test_the_range_quotes_the_tab_and_doubles_its_quotes(tab: str, expected: str) -> None:
    assert a1_range(tab, "B12") == expected


def test_the_values_url_escapes_id_and_range_in_the_path() -> None:
    url = values_get_url("https://sheets.googleapis.com/", SHEET_ID, "a/b c", "B12")
    assert url == (
        f"https://sheets.googleapis.com/v4/spreadsheets/{SHEET_ID}/values/"
        "%27a%2Fb%20c%27%21B12?valueRenderOption=FORMATTED_VALUE&majorDimension=ROWS"
    )


def _answer(document: object) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("document", "value"),
    [
        ({"values": [["42"]]}, 42.0),
        ({"values": [["99.9%"]]}, 99.9),
        ({"values": [["1,234.5"]]}, 1234.5),
        ({"values": [["$1.2k"]]}, 1200.0),
        ({"values": [["(12)"]]}, -12.0),
        ({"values": [["TRUE"]]}, 1.0),
        ({"values": [[7]]}, 7.0),
    ],
)
def test_the_cell_text_is_parsed_like_https_get_values(document: object, value: float) -> None:
    assert cell_value(_answer(document), tab="Sheet1", cell="B12") == value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            _answer({"range": "'Sheet1'!B12", "majorDimension": "ROWS"}),
            "cell 'Sheet1'!B12 is empty",
        ),
        (_answer({"values": []}), "cell 'Sheet1'!B12 is empty"),
        (_answer({"values": [["  "]]}), "cell 'Sheet1'!B12 is empty"),
        (_answer({"values": [["n/a"]]}), "value 'n/a' is not a number"),
        (_answer({"values": "x"}), "unexpected document"),
        (_answer([1]), "unexpected document"),
        (b"<html>", "not JSON"),
    ],
)
def test_a_cell_without_a_number_says_why(body: bytes, message: str) -> None:
    with pytest.raises(ValueParseError, match=message.replace("(", r"\(")):
        cell_value(body, tab="Sheet1", cell="B12")


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"connection_id": "c", "spreadsheet": SHEET_ID, "tab": "S", "cell": "B1:B2"}, "cell"),
        ({"connection_id": "c", "spreadsheet": "x", "tab": "S", "cell": "B1"}, "spreadsheet"),
        ({"connection_id": "c", "spreadsheet": SHEET_ID, "tab": "", "cell": "B1"}, "tab"),
        ({"spreadsheet": SHEET_ID, "tab": "S", "cell": "B1"}, "connection_id"),
        (
            {
                "connection_id": "c",
                "spreadsheet": SHEET_ID,
                "tab": "S",
                "cell": "B1",
                "interval_seconds": 30,
            },
            "interval_seconds",
        ),
        (
            {"connection_id": "c", "spreadsheet": SHEET_ID, "tab": "S", "cell": "B1", "x": 1},
            "x",
        ),
    ],
)
def test_the_config_schema_names_the_wrong_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        sheets.config_parse(config)
    assert field in caught.value.errors


def test_the_status_names_the_spreadsheet_and_the_cell() -> None:
    state = SourceState(
        kind="sheets",
        config={"spreadsheet": SHEET_ID, "tab": "Bob's", "cell": "B12", "connection_id": "c"},
        secret_hint="",
        interval_seconds=900,
        next_pull_at=None,
        last_pulled_at=None,
        last_success_at=None,
        last_error="",
        last_error_at=None,
        consecutive_failures=0,
    )
    status = sheets.describe_status(state, now=clock.now())
    assert ("Spreadsheet", SHEET_ID) in status.details
    assert ("Cell", "'Bob''s'!B12") in status.details


# --- pure: bind and pull take what they need from their context -----------------------------

OWN = (("conn-alice-1", "alice@gmail.example"), ("conn-alice-2", "alice@work.example"))
CONFIG = {"connection_id": "conn-alice-2", "spreadsheet": SHEET_URL, "tab": "S", "cell": "b2"}


def bind_context(*, user_id: int | None = 7, connections: Any = OWN) -> BindContext:
    return BindContext(
        org_id=1,
        user_id=user_id,
        kpi_id="k",
        current_kind="manual",
        current_config={},
        has_secret=False,
        now=NOW,
        connections=connections,
    )


def test_bind_takes_one_of_the_binding_users_own_connections_from_its_context() -> None:
    binding = SheetsConnector().binding_validate(CONFIG, context=bind_context())
    assert binding.connection_id == "conn-alice-2"
    assert binding.config == {
        "connection_id": "conn-alice-2",
        "spreadsheet": SHEET_ID,
        "tab": "S",
        "cell": "B2",
    }


@pytest.mark.parametrize(
    ("user_id", "connections", "message"),
    [
        # Someone else's connection (another user, or this user in another org) is not
        # among the binding user's own in this org, which is all the context lists.
        (7, (("conn-bob", "bob@gmail.example"),), NOT_YOURS),
        (7, (), NOT_YOURS),
        (None, OWN, NOT_A_PERSON),
    ],
)
def test_bind_refuses_a_connection_that_is_not_the_binding_users_own(
    user_id: int | None, connections: Any, message: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        SheetsConnector().binding_validate(
            CONFIG, context=bind_context(user_id=user_id, connections=connections)
        )
    assert caught.value.errors == {"connection_id": message}


def test_the_connection_input_offers_the_connections_it_is_given_and_only_those() -> None:
    fields = {f.name: f for f in sheets.form_fields(org_id=1, user_id=7, connections=OWN)}
    assert fields["connection_id"].choices == OWN
    none = {f.name: f for f in sheets.form_fields(org_id=1, user_id=7)}
    assert none["connection_id"].choices == ()
    assert "no Google connection in this organization yet" in none["connection_id"].help


def pull_context(connection: ConnectionAccess | None) -> PullContext:
    return PullContext(
        source_id="s",
        org_id=1,
        kpi_id="k",
        kind="sheets",
        config={"connection_id": "c", "spreadsheet": SHEET_ID, "tab": "S", "cell": "B2"},
        secret=None,
        connection_id="c",
        now=NOW,
        connection=connection,
    )


def test_a_pull_without_a_connection_in_its_context_says_it_was_disconnected() -> None:
    async def run() -> Observation:
        async with SafeSession(fetch_policy()) as session:
            return await sheets.pull(pull_context(None), session)  # type: ignore[attr-defined,no-any-return]

    with pytest.raises(PullError) as caught:
        async_to_sync(run)()
    assert caught.value.message == DISCONNECTED


def test_the_access_token_never_shows_in_a_context_repr() -> None:
    access = ConnectionAccess(account="a@example.com", access_token="ya29.secret", refreshed=False)
    assert "ya29.secret" not in repr(pull_context(access))


# --- with the stand-in --------------------------------------------------------------------


def test_binding_stores_the_spreadsheet_id_the_normalised_cell_and_the_connection(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    kpi = KpiFactory(org=alice.org)
    source = bind(kpi, alice, alice_connection, interval_seconds=120)
    assert source.kind == "sheets"
    assert source.config == {
        "connection_id": alice_connection.pk,
        "spreadsheet": SHEET_ID,
        "tab": "Sheet1",
        "cell": "B12",
    }
    assert source.connection_id == alice_connection.pk
    assert source.interval_seconds == 120
    assert source.secret_encrypted == ""


def test_a_pull_reads_exactly_that_one_cell_with_the_stored_access_token(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    assert pull(source) == Observation(value=1234.5)
    (request,) = google.recorded("/v4/")
    assert request.method == "GET"
    assert request.path.startswith(f"/v4/spreadsheets/{SHEET_ID}/values/")
    assert urllib.parse.unquote(request.path.rsplit("/", 1)[1]) == "'Sheet1'!B12"
    assert request.query == {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"}
    token = cipher().decrypt(alice_connection.access_token_encrypted)
    assert request.headers["authorization"] == f"Bearer {token}"
    assert [r.form["grant_type"] for r in google.recorded("/token")] == ["authorization_code"]


def test_a_tab_name_with_quotes_spaces_and_slashes_reaches_google_intact(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    google.set_cell(SHEET_ID, "Bob's Q3 / plan", "C7", "12.5%")
    source = bind(
        KpiFactory(org=alice.org), alice, alice_connection, tab="Bob's Q3 / plan", cell="C7"
    )
    assert pull(source).value == 12.5


def test_a_token_google_ended_early_is_refreshed_once_and_the_read_retried(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    google.expire_access_tokens()
    assert pull(source).value == 1234.5
    assert [r.form["grant_type"] for r in google.recorded("/token")] == [
        "authorization_code",
        "refresh_token",
    ]
    assert len(google.recorded("/v4/")) == 2


@pytest.mark.parametrize(
    ("cell", "text", "message"),
    [
        ("B20", None, "cell 'Sheet1'!B20 is empty"),
        ("B21", "n/a", "value 'n/a' is not a number"),
    ],
)
def test_a_cell_without_a_number_fails_the_pull_saying_why(
    google: GoogleStandIn,
    alice: Membership,
    alice_connection: GoogleConnection,
    cell: str,
    text: str | None,
    message: str,
) -> None:
    google.set_cell(SHEET_ID, "Sheet1", cell, text)
    source = bind(KpiFactory(org=alice.org), alice, alice_connection, cell=cell)
    assert pull_error(source) == message


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (403, "Google refused access to the spreadsheet (HTTP 403): share it with alice@"),
        (404, "the spreadsheet was not found (HTTP 404)"),
        (429, "quota was exceeded (HTTP 429)"),
        (503, "Google Sheets answered HTTP 503"),
    ],
)
def test_google_refusals_become_messages_that_name_the_fix(
    google: GoogleStandIn,
    alice: Membership,
    alice_connection: GoogleConnection,
    status: int,
    phrase: str,
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    google.sheets_status = status
    assert phrase in pull_error(source)


def test_a_missing_tab_is_reported_by_name(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection, tab="Renamed")
    assert pull_error(source) == (
        "Google could not read 'Renamed'!B12 (HTTP 400): check that the tab 'Renamed' exists"
    )


def test_an_unreachable_google_is_a_pull_error(
    google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    source = bind(KpiFactory(org=alice.org), alice, alice_connection)
    google.stop()
    assert pull_error(source).startswith("could not reach Google Sheets: could not connect to")


# --- the whole way through the worker -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_pull_now_writes_the_value_and_after_disconnect_keeps_it_and_fails_readably(
    client: Client, google: GoogleStandIn
) -> None:
    admin = MembershipFactory(role="admin")
    connection = connected(client, google, admin)
    kpi = KpiFactory(org=admin.org)
    source = bind(kpi, admin, connection)
    record = pull_now(source=source)
    assert record.error == "" and record.changed
    kpi.refresh_from_db()
    assert kpi.current_value == 1234.5
    assert kpi.history.count() == 1  # type: ignore[attr-defined]

    outcome = connection_disconnect(
        org=admin.org,
        user=admin.user,
        connection_id=connection.pk,
        actor=Actor.for_user(admin.user),
    )
    assert outcome.revoked and outcome.sources_affected == 1
    source.refresh_from_db()
    record = pull_now(source=source)
    assert record.error == DISCONNECTED
    kpi.refresh_from_db()
    source.refresh_from_db()
    assert kpi.current_value == 1234.5
    assert source.failing and source.last_error == DISCONNECTED


# --- isolation ----------------------------------------------------------------------------


def test_another_admin_of_the_same_org_can_neither_list_nor_bind_nor_disconnect_it(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    bob = MembershipFactory(org=alice.org, role="admin")
    assert connection_choices(org_id=alice.org.pk, user_id=bob.user.pk) == ()
    mine = connection_choices(org_id=alice.org.pk, user_id=alice.user.pk)
    assert mine == ((alice_connection.pk, "alice@gmail.example"),)
    with pytest.raises(ValidationFailed) as caught:
        bind(KpiFactory(org=alice.org), bob, alice_connection)
    assert "not one of your Google connections" in caught.value.errors["connection_id"]
    with pytest.raises(NotFound):
        connection_disconnect(
            org=alice.org,
            user=bob.user,
            connection_id=alice_connection.pk,
            actor=Actor.for_user(bob.user),
        )
    assert GoogleConnection.objects.filter(pk=alice_connection.pk).exists()


def test_an_admin_of_another_org_cannot_bind_it(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    carol = MembershipFactory(role="admin")
    with pytest.raises(ValidationFailed):
        bind(KpiFactory(org=carol.org), carol, alice_connection)
    # Not even alice herself, from another org: a connection belongs to one org.
    elsewhere = MembershipFactory(user=alice.user, role="admin")
    with pytest.raises(ValidationFailed):
        bind(KpiFactory(org=elsewhere.org), elsewhere, alice_connection)


def test_an_api_token_cannot_bind_a_sheets_source(
    alice: Membership, alice_connection: GoogleConnection
) -> None:
    kpi = KpiFactory(org=alice.org)
    token_actor = Actor.system("token")
    with pytest.raises(ValidationFailed) as caught:
        source_bind(
            kpi=kpi,
            actor=token_actor,
            kind="sheets",
            config={
                "connection_id": alice_connection.pk,
                "spreadsheet": SHEET_ID,
                "tab": "Sheet1",
                "cell": "B12",
            },
        )
    assert "API tokens and the CLI have no Google account" in caught.value.errors["connection_id"]


def test_another_admin_rebinding_replaces_the_connection_with_their_own(
    client: Client, google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    kpi = KpiFactory(org=alice.org)
    bind(kpi, alice, alice_connection)
    bob = MembershipFactory(org=alice.org, role="admin")
    google.email = "bob@gmail.example"
    bobs = connected(client, google, bob)
    source = bind(kpi, bob, bobs)
    assert source.connection_id == bobs.pk
    pull(source)
    (read,) = google.recorded("/v4/")
    assert (
        read.headers["authorization"] == f"Bearer {cipher().decrypt(bobs.access_token_encrypted)}"
    )


# --- the source page ------------------------------------------------------------------------


def test_the_source_page_offers_only_your_own_connections_and_binds_through_them(
    client: Client, google: GoogleStandIn, alice: Membership, alice_connection: GoogleConnection
) -> None:
    kpi = KpiFactory(org=alice.org)
    url = reverse("web:kpi-source", kwargs={"kpi_id": kpi.pk})
    bob = MembershipFactory(org=alice.org, role="admin")
    client.force_login(bob.user)
    page = client.get(url).content.decode()
    assert alice_connection.pk not in page and "alice@gmail.example" not in page
    assert "You have no Google connection in this organization yet" in page
    client.force_login(alice.user)
    page = client.get(url).content.decode()
    assert f'<option value="{alice_connection.pk}"' in page
    response = client.post(
        url,
        {
            "kind": "sheets",
            "sheets-connection_id": alice_connection.pk,
            "sheets-spreadsheet": SHEET_URL,
            "sheets-tab": "Sheet1",
            "sheets-cell": "B12",
            "sheets-interval_seconds": "300",
        },
    )
    assert response.status_code == 302, response.content.decode()
    source = Source.objects.get(kpi=kpi)
    assert (source.kind, source.connection_id, source.interval_seconds) == (
        "sheets",
        alice_connection.pk,
        300,
    )
    page = client.get(url).content.decode()
    assert SHEET_ID in page and "&#x27;Sheet1&#x27;!B12" in page


def test_the_source_page_names_a_bad_cell_without_saving(
    client: Client, alice: Membership, alice_connection: GoogleConnection
) -> None:
    kpi = KpiFactory(org=alice.org)
    client.force_login(alice.user)
    response = client.post(
        reverse("web:kpi-source", kwargs={"kpi_id": kpi.pk}),
        {
            "kind": "sheets",
            "sheets-connection_id": alice_connection.pk,
            "sheets-spreadsheet": SHEET_ID,
            "sheets-tab": "Sheet1",
            "sheets-cell": "B12:C14",
        },
    )
    assert response.status_code == 422
    assert "is a range; give a single cell" in response.content.decode()
    assert Source.objects.get(kpi=kpi).kind == "manual"
