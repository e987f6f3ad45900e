"""Requests refused by their URL alone: a NUL character in a web path is a 404 before any
view (PostgreSQL cannot store NUL); a URL longer than the limit is 414, in JSON for the API."""

from __future__ import annotations

import pytest
from django.test import Client
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.core.request_guard import MAX_URI_LENGTH

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/kpis/%00/",
        "/kpis/a%00b/history.csv",
        "/settings/kpis/%00/edit/",
        "/settings/tokens/%00/revoke/",
        "/profile/connections/%00/disconnect/",
        "/invite/%00/",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_web_path_with_nul_is_404_for_a_signed_in_admin(path: str, method: str) -> None:
    browser = Client()
    browser.force_login(MembershipFactory(role="admin").user)
    assert getattr(browser, method)(path).status_code == 404


def test_the_api_and_the_webhook_endpoint_keep_their_own_answers() -> None:
    KpiFactory()
    assert Client().get("/api/v1/kpis/%00").status_code == 401  # no token: auth first
    assert Client().post("/hooks/kpis/%00", b"{}", "application/json").status_code == 401


def test_an_ordinary_unknown_id_is_still_the_views_own_404() -> None:
    browser = Client()
    browser.force_login(MembershipFactory(role="admin").user)
    assert browser.get("/kpis/doesNotExist123/").status_code == 404


# --- URI length (414) --------------------------------------------------------------------


def test_an_api_url_too_long_is_414_in_the_apis_json_shape() -> None:
    response = Client().get("/api/v1/kpis?q=" + "x" * (MAX_URI_LENGTH + 1))
    assert response.status_code == 414
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f"the URL is longer than {MAX_URI_LENGTH} characters"}


def test_a_webhook_url_too_long_is_414_json_too() -> None:
    response = Client().post("/hooks/kpis/" + "a" * MAX_URI_LENGTH, b"{}", "application/json")
    assert response.status_code == 414
    assert "detail" in response.json()


def test_a_web_url_too_long_is_a_414_page() -> None:
    response = Client().get("/login/?next=" + "x" * MAX_URI_LENGTH)
    assert response.status_code == 414
    assert response["Content-Type"].startswith("text/html")
    assert b"URL too long" in response.content


def test_a_url_at_the_limit_is_served() -> None:
    path = "/api/v1/kpis?q="
    response = Client().get(path + "x" * (MAX_URI_LENGTH - len(path)))
    assert response.status_code == 401  # reaches the API: the missing token is the answer
