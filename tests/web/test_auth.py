"""Login with the e-mail address, logout, a bad reset link, session cookies and idle timeout.

The reset flow itself (e-mail, throttling) is in ``test_password_reset.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import PASSWORD

from pulseboard.core import clock
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db


def test_login_with_email_and_password_lands_on_home(member: Membership) -> None:
    client = Client()
    response = client.post(
        reverse("web:login"), {"username": member.user.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_a_wrong_password_is_refused_with_a_message(member: Membership) -> None:
    response = Client().post(
        reverse("web:login"), {"username": member.user.email, "password": "wrong"}
    )
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()


def test_login_returns_to_the_page_asked_for(member: Membership) -> None:
    client = Client()
    target = reverse("web:kpi-create")
    response = client.post(
        reverse("web:login") + f"?next={target}",
        {"username": member.user.email, "password": PASSWORD, "next": target},
    )
    assert response["Location"] == target


def test_logout_is_a_post_and_ends_the_session(member_client: Client) -> None:
    assert member_client.get(reverse("web:logout")).status_code == 405
    member_client.post(reverse("web:logout"))
    assert member_client.get(reverse("web:home")).status_code == 302


def test_a_bad_reset_link_says_so() -> None:
    body = Client().get(
        reverse("web:password-reset-confirm", args=["MQ", "bad-token"]), follow=True
    )
    assert "Link no longer valid" in body.content.decode()


# --- Idle session timeout (PULSEBOARD_SESSION_IDLE_MINUTES) ------------------------------


def session_expiry(client: Client) -> datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def session_writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if "django_session" in q["sql"]
        and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))
    ]


def test_an_active_session_is_refreshed_at_most_once_per_interval(
    member: Membership, settings: Any
) -> None:
    client = Client()
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(member.user)
        client.get(reverse("web:home"))  # the first signed-in request stamps the session
        stamped = session_expiry(client)
        traveller.shift(timedelta(seconds=settings.PULSEBOARD["SESSION_REFRESH_SECONDS"] - 1))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("web:home")).status_code == 200
        assert session_writes(queries) == []  # no write per request
        assert session_expiry(client) == stamped
        traveller.shift(timedelta(seconds=2))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("web:home"))
        assert len(session_writes(queries)) == 1
    assert session_expiry(client) > stamped
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE


def test_a_session_idle_longer_than_the_timeout_ends(member: Membership, settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = 30 * 60
    settings.PULSEBOARD = {**settings.PULSEBOARD, "SESSION_REFRESH_SECONDS": 180}
    client = Client()
    with time_machine.travel(clock.now(), tick=False) as traveller:
        client.force_login(member.user)
        for _ in range(4):  # active for an hour, a request every 15 minutes: still in
            traveller.shift(timedelta(minutes=15))
            assert client.get(reverse("web:home")).status_code == 200
        traveller.shift(timedelta(minutes=31))  # then idle past the timeout
        assert client.get(reverse("web:home")).status_code == 302
