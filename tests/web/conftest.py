"""Web test kit: fast password hashing, an org with an admin and a member, signed-in clients,
and Playwright for the browser tests (``@pytest.mark.browser`` modules).

Playwright is started and stopped around each browser module instead of once per
session (pytest-playwright's default): its sync API keeps an asyncio event loop set on
the main thread while it runs, and with that loop in place every later test that calls
``async_to_sync`` fails, and Django refuses ORM calls. For the same reason a browser
module runs with DJANGO_ALLOW_ASYNC_UNSAFE set, and only while it runs (a later
``check --deploy`` must not see it). The Chromium launch arguments still come from the
suite's ``browser_type_launch_args``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from tests.factories import MembershipFactory

from pulseboard.orgs.models import Membership

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin(db: None) -> Membership:
    return MembershipFactory(role="admin")


@pytest.fixture
def member(admin: Membership) -> Membership:
    return MembershipFactory(org=admin.org)


@pytest.fixture
def admin_client(admin: Membership) -> Client:
    client = Client()
    client.force_login(admin.user)
    return client


@pytest.fixture
def member_client(member: Membership) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


@pytest.fixture(autouse=True, scope="module")
def async_unsafe_in_browser_modules(request: pytest.FixtureRequest) -> Iterator[None]:
    # Module scope: in place before the function-scoped database fixtures of the module.
    if request.node.get_closest_marker("browser") is None:
        yield
        return
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    yield
    if before is None:
        os.environ.pop(ASYNC_UNSAFE, None)
    else:
        os.environ[ASYNC_UNSAFE] = before


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(
    playwright: Playwright, browser_name: str, browser_type_launch_args: dict[str, Any]
) -> Iterator[Browser]:
    launched = getattr(playwright, browser_name).launch(**browser_type_launch_args)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()
