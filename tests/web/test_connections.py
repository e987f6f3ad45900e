"""Profile → Connections: the OAuth flow through the web pages, against the Google stand-in.

The consent round trip is real: the start page redirects to the stand-in, the test follows
that redirect like a browser, and the stand-in's answer is fed to the callback. Each user
sees and disconnects only their own connections, admins included.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse
from tests.connectors.google_standin import (
    CLIENT_ID,
    SHEETS_SCOPE,
    GoogleStandIn,
    connect_through_web,
    follow_consent,
    running_standin,
)
from tests.factories import PASSWORD, KpiFactory, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import GoogleConnection, Source
from pulseboard.connectors.sheets.selectors import connection_list_for_user
from pulseboard.core.crypto import cipher
from pulseboard.orgs.models import Membership
from pulseboard.web.views.connections import FLOW_SESSION_KEY

pytestmark = pytest.mark.django_db
BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def google(tmp_path: Path, settings: Any) -> Iterator[GoogleStandIn]:
    with running_standin(tmp_path) as standin:
        settings.PULSEBOARD = {**settings.PULSEBOARD, **standin.settings(), "BASE_URL": BASE_URL}
        yield standin


def login(client: Client, membership: Membership) -> None:
    assert client.login(username=membership.user.email, password=PASSWORD)


def start(client: Client) -> str:
    response = client.post(reverse("web:connections-start"))
    assert response.status_code == 302
    return str(response["Location"])


def callback_path(url: str) -> str:
    assert url.startswith(BASE_URL + "/profile/connections/callback?"), url
    return url[len(BASE_URL) :]


def connect(client: Client, google: GoogleStandIn) -> Any:
    return connect_through_web(client, google, BASE_URL)


def page_text(response: Any) -> str:
    return str(response.content.decode())


def all_table_text(table: str) -> str:
    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return repr(cursor.fetchall())


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "kwargs"),
    [
        ("get", "web:connections", {}),
        ("post", "web:connections-start", {}),
        ("get", "web:connections-callback", {}),
        ("get", "web:connections-disconnect", {"connection_id": "x"}),
        ("post", "web:connections-disconnect", {"connection_id": "x"}),
    ],
)
def test_every_connections_page_requires_login(
    client: Client, method: str, name: str, kwargs: dict[str, str]
) -> None:
    response = getattr(client, method)(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert reverse("web:login") in response["Location"]


def test_the_callback_url_is_the_one_documented_for_the_google_console(
    google: GoogleStandIn,
) -> None:
    assert reverse("web:connections-callback") == "/profile/connections/callback"


# --- connecting ---------------------------------------------------------------------------


def test_start_sends_the_admin_to_google_with_state_pkce_offline_and_the_readonly_scope(
    client: Client, google: GoogleStandIn
) -> None:
    admin = MembershipFactory(role="admin")
    login(client, admin)
    url = start(client)
    assert url.startswith(google.base_url + "/o/oauth2/v2/auth?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    flow = client.session[FLOW_SESSION_KEY]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(flow["verifier"].encode()).digest())
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == BASE_URL + "/profile/connections/callback"
    assert SHEETS_SCOPE in query["scope"].split()
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["state"] == flow["state"] and len(flow["state"]) >= 32
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == challenge.rstrip(b"=").decode()
    assert flow["verifier"] not in url


def test_connecting_stores_tokens_encrypted_and_shows_the_account(
    client: Client, google: GoogleStandIn
) -> None:
    admin = MembershipFactory(role="admin")
    login(client, admin)
    response = connect(client, google)
    assert "Connected alice@gmail.example" in page_text(response)
    stored = GoogleConnection.objects.get(org=admin.org, user=admin.user)
    assert stored.google_email == "alice@gmail.example"
    assert SHEETS_SCOPE in stored.scope.split()
    assert stored.expires_at is not None
    grant = google.live_grants()[0]
    assert cipher().decrypt(stored.refresh_token_encrypted) == grant.refresh_token
    assert cipher().decrypt(stored.access_token_encrypted) in grant.access_tokens
    tokens = list(google.all_tokens())
    dumped = all_table_text("connectors_googleconnection") + all_table_text("audit_auditevent")
    assert tokens and not any(token in dumped for token in tokens)
    assert not any(token in page_text(response) for token in tokens)
    event = AuditEvent.objects.get(action="connection.created")
    assert event.target_id == stored.pk and event.actor_id == str(admin.user.pk)
    assert FLOW_SESSION_KEY not in client.session


def test_the_token_request_carries_the_pkce_verifier_and_the_same_redirect_uri(
    client: Client, google: GoogleStandIn
) -> None:
    login(client, MembershipFactory(role="admin"))
    url = start(client)
    verifier = client.session[FLOW_SESSION_KEY]["verifier"]
    client.get(callback_path(follow_consent(google, url)))
    (sent,) = google.recorded("/token")
    assert sent.form["grant_type"] == "authorization_code"
    assert sent.form["code_verifier"] == verifier
    assert sent.form["redirect_uri"] == BASE_URL + "/profile/connections/callback"


def test_a_callback_with_a_foreign_state_is_refused_before_any_token_request(
    client: Client, google: GoogleStandIn
) -> None:
    login(client, MembershipFactory(role="admin"))
    back = follow_consent(google, start(client))
    forged = back.replace("state=", "state=x")
    response = client.get(callback_path(forged), follow=True)
    assert "state mismatch" in page_text(response)
    assert google.recorded("/token") == []
    assert not GoogleConnection.objects.exists()


def test_a_callback_is_used_once(client: Client, google: GoogleStandIn) -> None:
    login(client, MembershipFactory(role="admin"))
    path = callback_path(follow_consent(google, start(client)))
    client.get(path)
    replay = client.get(path, follow=True)
    assert "No Google sign-in was in progress" in page_text(replay)
    assert GoogleConnection.objects.count() == 1
    assert len(google.recorded("/token")) == 1


def test_a_callback_without_a_started_sign_in_is_refused(
    client: Client, google: GoogleStandIn
) -> None:
    login(client, MembershipFactory(role="admin"))
    response = client.get(reverse("web:connections-callback") + "?code=4/x&state=y", follow=True)
    assert "No Google sign-in was in progress" in page_text(response)
    assert google.recorded("/token") == []


def test_a_wrong_pkce_verifier_makes_google_refuse_the_code(
    client: Client, google: GoogleStandIn
) -> None:
    login(client, MembershipFactory(role="admin"))
    url = start(client)
    session = client.session
    session[FLOW_SESSION_KEY] = {**session[FLOW_SESSION_KEY], "verifier": "z" * 64}
    session.save()
    response = client.get(callback_path(follow_consent(google, url)), follow=True)
    assert "Google did not accept the sign-in" in page_text(response)
    assert not GoogleConnection.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deny": True}, "Google was not connected: you cancelled it."),
        (
            {"scope": "openid https://www.googleapis.com/auth/userinfo.email"},
            "Google did not grant access to spreadsheets",
        ),
        ({"send_refresh_token": False}, "Google sent no refresh token"),
    ],
)
def test_a_sign_in_without_a_usable_grant_stores_nothing_and_leaves_no_grant_behind(
    client: Client, google: GoogleStandIn, change: dict[str, Any], message: str
) -> None:
    login(client, MembershipFactory(role="admin"))
    for name, value in change.items():
        setattr(google, name, value)
    response = connect(client, google)
    assert message in page_text(response)
    assert not GoogleConnection.objects.exists()
    assert google.live_grants() == []


def test_connecting_the_same_account_again_replaces_its_tokens(
    client: Client, google: GoogleStandIn
) -> None:
    admin = MembershipFactory(role="admin")
    login(client, admin)
    connect(client, google)
    first = GoogleConnection.objects.get()
    connect(client, google)
    again = GoogleConnection.objects.get()
    assert again.pk == first.pk
    assert again.refresh_token_encrypted != first.refresh_token_encrypted


def test_members_cannot_connect(client: Client, google: GoogleStandIn) -> None:
    member = MembershipFactory(role="member")
    login(client, member)
    page = page_text(client.get(reverse("web:connections")))
    assert "Only admins connect Google accounts" in page
    assert reverse("web:connections-start") not in page
    response = client.post(reverse("web:connections-start"))
    assert response["Location"] == reverse("web:connections")
    assert FLOW_SESSION_KEY not in client.session
    assert google.recorded("/") == []


def test_an_unconfigured_server_says_which_settings_are_missing(
    client: Client, settings: Any
) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "GOOGLE_CLIENT_ID": ""}
    login(client, MembershipFactory(role="admin"))
    page = page_text(client.get(reverse("web:connections")))
    assert "PULSEBOARD_GOOGLE_CLIENT_ID" in page
    response = client.post(reverse("web:connections-start"), follow=True)
    assert "Google is not configured" in page_text(response)


# --- isolation ----------------------------------------------------------------------------


def test_each_user_sees_only_their_own_connections_admins_included(
    client: Client, google: GoogleStandIn
) -> None:
    alice = MembershipFactory(role="admin")
    login(client, alice)
    connect(client, google)
    mine = GoogleConnection.objects.get()
    bob = MembershipFactory(org=alice.org, role="admin")
    client.logout()
    login(client, bob)
    page = page_text(client.get(reverse("web:connections")))
    assert "alice@gmail.example" not in page and mine.pk not in page
    assert "No Google account connected" in page
    for method in ("get", "post"):
        url = reverse("web:connections-disconnect", kwargs={"connection_id": mine.pk})
        assert getattr(client, method)(url).status_code == 404
    assert GoogleConnection.objects.filter(pk=mine.pk).exists()
    assert list(connection_list_for_user(org=alice.org, user=bob.user)) == []


def test_the_same_user_in_another_org_does_not_see_the_connection(
    client: Client, google: GoogleStandIn
) -> None:
    here = MembershipFactory(role="admin")
    login(client, here)
    connect(client, google)
    mine = GoogleConnection.objects.get()
    elsewhere = MembershipFactory(user=here.user, role="admin")
    session = client.session
    session["pulseboard_org_id"] = elsewhere.org.pk
    session.save()
    page = page_text(client.get(reverse("web:connections")))
    assert mine.pk not in page
    url = reverse("web:connections-disconnect", kwargs={"connection_id": mine.pk})
    assert client.post(url).status_code == 404


# --- disconnecting ------------------------------------------------------------------------


def test_disconnect_asks_first_then_revokes_at_google_and_forgets_the_tokens(
    client: Client, google: GoogleStandIn
) -> None:
    admin = MembershipFactory(role="admin")
    login(client, admin)
    connect(client, google)
    mine = GoogleConnection.objects.get()
    kpi = KpiFactory(org=admin.org)
    Source.objects.filter(kpi=kpi).update(kind="sheets", connection=mine)
    refresh_token = google.live_grants()[0].refresh_token
    url = reverse("web:connections-disconnect", kwargs={"connection_id": mine.pk})
    confirm = page_text(client.get(url))
    assert "Disconnect alice@gmail.example?" in confirm
    assert GoogleConnection.objects.exists()
    response = client.post(url, follow=True)
    text = page_text(response)
    assert "Google confirmed" in text and "1 KPI(s) read through it" in text
    (revoke,) = google.recorded("/revoke")
    assert revoke.form == {"token": refresh_token}
    assert google.live_grants() == []
    assert not GoogleConnection.objects.exists()
    source = Source.objects.get(kpi=kpi)
    assert source.connection_id is None and source.kind == "sheets"
    event = AuditEvent.objects.get(action="connection.removed")
    assert event.after == {"revoked_at_google": True, "sources_affected": 1}
    assert refresh_token not in all_table_text("audit_auditevent")


def test_disconnect_forgets_the_tokens_even_when_google_cannot_be_reached(
    client: Client, google: GoogleStandIn, settings: Any
) -> None:
    login(client, MembershipFactory(role="admin"))
    connect(client, google)
    mine = GoogleConnection.objects.get()
    google.stop()
    url = reverse("web:connections-disconnect", kwargs={"connection_id": mine.pk})
    text = page_text(client.post(url, follow=True))
    assert "Google could not confirm the revocation" in text
    assert "myaccount.google.com/permissions" in text
    assert not GoogleConnection.objects.exists()


def test_a_demoted_admin_still_sees_and_disconnects_their_own_connection(
    client: Client, google: GoogleStandIn
) -> None:
    admin = MembershipFactory(role="admin")
    login(client, admin)
    connect(client, google)
    Membership.objects.filter(pk=admin.pk).update(role="member")
    mine = GoogleConnection.objects.get()
    assert "alice@gmail.example" in page_text(client.get(reverse("web:connections")))
    url = reverse("web:connections-disconnect", kwargs={"connection_id": mine.pk})
    assert client.post(url).status_code == 302
    assert not GoogleConnection.objects.exists()
