"""A NUL character in a web path is a 404 before any view (PostgreSQL cannot store NUL)."""

from __future__ import annotations

import pytest
from django.test import Client
from tests.factories import KpiFactory, MembershipFactory

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
