"""Every page of the web app passes axe-core with zero violations (DESIGN §7, issue 13 item 7).

axe-core (the npm package, pinned in scripts/test.sh, which installs it into
``.venv/node``) is injected into each page in real Chromium and ``axe.run()`` checks it
against its default rules (WCAG 2.0/2.1 A and AA and axe's best practices). The pages are
read from ``web/urls.py``: every route name of the ``web`` namespace is visited unless it is
listed in ``NOT_PAGES`` with the reason, so a page added later is checked without a change
here. Its path parameters are filled from the demo organization (every status, a stale KPI,
a failing source, a tree, goals, annotations, a team) plus a member, an invite, an API
token, a share link and a password-reset link. A route whose GET answers 405 (a form's
POST target) or something other than HTML is skipped with the reason.

One live server and one set of data serve the whole module (module scope), so the module
costs one demo creation and one page load per route.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.db import connections
from django.urls import URLPattern, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Browser, Page
from pytest_django.live_server_helper import LiveServer

from pulseboard.connectors.models import GoogleConnection
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import cipher
from pulseboard.demo import (
    DEMO_EMAIL,
    DEMO_ORG,
    DEMO_PASSWORD,
    FAILING_KPI,
    FEED_KPI,
    demo_create,
)
from pulseboard.goals.models import Cycle, KeyResult, Objective
from pulseboard.history.models import Annotation
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership, Organization, Team, User
from pulseboard.orgs.services import member_invite, token_create
from pulseboard.web import urls as web_urls

# The data is made once per module and committed (the ``site`` fixture); each test's own
# transaction (django_db) only reads it. The marker also has the test database set up.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(
    os.environ.get("PULSEBOARD_AXE_JS") or ROOT / ".venv/node/node_modules/axe-core/axe.min.js"
)
TIMEOUT_MS = 15_000

# Routes that are not pages a person lands on, with the reason. Everything else is visited.
NOT_PAGES: dict[str, str] = {
    "logout": "POST only: logs out",
    "org-switch": "POST only: switches the org",
    "connections-start": "redirects to Google's consent screen",
    "connections-callback": "Google's redirect target: needs Google's code and state",
    "kpi-history-csv": "a CSV download",
    "kpi-history-json": "a JSON download",
    "kpi-value": "an htmx fragment inside a Home tile (checked on Home)",
    "kpi-suggest": "an htmx fragment of the KPI form (checked on the form)",
    "kpi-preview": "an htmx fragment of the KPI form (checked on the form)",
    "share-not-found": "any other path under a share link: the same 404 as an unknown token",
}
# Pages for people who are not signed in: visited in a fresh browser context.
ANONYMOUS = {
    "login",
    "password-reset",
    "password-reset-done",
    "password-reset-confirm",
    "password-reset-complete",
    "invite-accept",
}


def _web_routes() -> list[tuple[str, str]]:
    """(route name, path pattern) of every named route in the ``web`` namespace."""
    routes = []
    for pattern in web_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name:
            routes.append((pattern.name, str(pattern.pattern)))
    return routes


# Pages with more than one look: each look is checked. A variant is a query string added
# to the URL (the TV board's themes; dark is its default) or, for a KPI's pages, another
# demo KPI than the first: at risk with notes, a failing pull source, a webhook, no value.
KPI_VARIANTS = [
    "kpi:p95 API latency",
    f"kpi:{FAILING_KPI}",
    f"kpi:{FEED_KPI}",
    "kpi:Deploys per day",
]
VARIANTS: dict[str, list[str]] = {
    "tv": ["?theme=light"],
    "share-board": ["?theme=light"],
    "kpi-detail": KPI_VARIANTS,
    "kpi-source": KPI_VARIANTS,
}
ROUTES = [
    (name, route, query)
    for name, route in _web_routes()
    if name not in NOT_PAGES
    for query in ["", *VARIANTS.get(name, [])]
]


@dataclass
class Site:
    base: str
    values: dict[str, str] = field(default_factory=dict)
    kpi_ids: dict[str, str] = field(default_factory=dict)  # title -> id
    share_token: str = ""
    invite_token: str = ""
    reset: tuple[str, str] = ("", "")


def _url_for(site: Site, name: str, route: str, variant: str) -> str:
    """The route with its parameters filled from the module's data, and its variant."""
    if variant.startswith("kpi:"):
        kpi_id = site.kpi_ids[variant.removeprefix("kpi:")]
        return site.base + _path_for(site, name, route, {"kpi_id": kpi_id})
    return site.base + _path_for(site, name, route, {}) + variant


def _path_for(site: Site, name: str, route: str, chosen: dict[str, str]) -> str:
    kwargs: dict[str, str] = {}
    for param in re.findall(r"<(?:\w+:)?(\w+)>", route):
        if param in chosen:
            kwargs[param] = chosen[param]
        elif name == "password-reset-confirm":
            kwargs[param] = site.reset[0] if param == "uidb64" else site.reset[1]
        elif param == "token":
            kwargs[param] = site.invite_token if name == "invite-accept" else site.share_token
        elif param in site.values:
            kwargs[param] = site.values[param]
        else:
            pytest.fail(
                f"route {name!r} ({route}) has a parameter {param!r} this test cannot fill: "
                "add a value for it in test_accessibility.py's site fixture, or list the "
                "route in NOT_PAGES with the reason"
            )
    return reverse(f"web:{name}", kwargs=kwargs)


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE_JS.exists():
        message = (
            f"axe-core is missing at {AXE_JS}: `make test` installs it with npm "
            "(scripts/test.sh), or set PULSEBOARD_AXE_JS to an axe.min.js"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(django_db_setup: None, django_db_blocker: Any, browser: Browser) -> Iterator[Site]:
    """The demo org and its neighbours, served by one live server for the whole module."""
    with django_db_blocker.unblock():
        now = clock.now()
        demo_create(now=now)
        org = Organization.objects.get(name=DEMO_ORG)
        admin = User.objects.get(email=DEMO_EMAIL)
        actor = Actor.for_user(admin)
        member = User.objects.create_user(email="member@example.com", password="x-member-pass-1")
        Membership.objects.create(org=org, user=member, role="member")
        invite, _ = member_invite(org=org, actor=actor, role="member", email="new@example.com")
        _, invite_token = member_invite(org=org, actor=actor, role="member")
        token, _ = token_create(org=org, actor=actor, name="Grafana", scope="read")
        connection = GoogleConnection.objects.create(
            org=org,
            user=admin,
            google_email="ops@example.com",
            access_token_encrypted=cipher().encrypt("ya29.not-a-real-token"),
            scope="https://www.googleapis.com/auth/spreadsheets.readonly",
        )
        kpi = Kpi.objects.filter(org=org, published=True).order_by("position").first()
        assert kpi is not None
        team = Team.objects.filter(org=org).first()
        values = {
            "kpi_id": kpi.pk,
            "cycle_id": Cycle.objects.filter(org=org).first().pk,  # type: ignore[union-attr]
            "objective_id": Objective.objects.filter(org=org).first().pk,  # type: ignore[union-attr]
            "key_result_id": KeyResult.objects.filter(org=org).first().pk,  # type: ignore[union-attr]
            "membership_id": str(Membership.objects.get(org=org, user=member).pk),
            "invite_id": str(invite.pk),
            "token_id": str(token.pk),
            "connection_id": connection.pk,
        }
        if team is not None:
            values.update(slug=team.slug, team_slug=team.slug, team_id=team.pk)
        annotation = Annotation.objects.filter(org=org).first()
        if annotation is not None:
            values["annotation_id"] = annotation.pk
        share_token, share_link_id = _share_link(org=org, actor=actor)
        if share_link_id:
            values["share_link_id"] = share_link_id
        reset = (
            urlsafe_base64_encode(force_bytes(admin.pk)),
            default_token_generator.make_token(admin),
        )
        server = LiveServer("localhost")
        try:
            yield Site(
                base=server.url,
                values=values,
                kpi_ids={k.title: k.pk for k in Kpi.objects.filter(org=org)},
                share_token=share_token,
                invite_token=invite_token,
                reset=reset,
            )
        finally:
            server.stop()
            # The next modules expect an empty database, as after a transactional test.
            call_command("flush", interactive=False, verbosity=0)
            # Playwright's greenlets give the tests their own connection: closed here, while
            # it is still theirs, or PostgreSQL could not drop the test database at the end.
            connections.close_all()


def _share_link(*, org: Organization, actor: Actor) -> tuple[str, str]:
    """A share link's token and id, once the sharing feature has its service (issue 13
    item 4); until then a token no link has (its routes then answer 404 and fail here)."""
    try:
        from pulseboard.sharing.services import share_link_create
    except ImportError:
        return "pbs_no-sharing-service-yet", ""
    link, token = share_link_create(org=org, actor=actor, name="Lobby screen")
    return token, link.pk


@pytest.fixture(scope="module")
def signed_in(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(site.base + "/login/")
    page.fill("#id_username", DEMO_EMAIL)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.base + "/")
    yield page
    context.close()


@pytest.fixture(scope="module")
def anonymous(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def _readable(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"][:8]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    … and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)


def _is_anonymous(name: str, route: str) -> bool:
    return name in ANONYMOUS or route.startswith("s/")


@pytest.mark.parametrize(
    ("name", "route", "variant"), ROUTES, ids=[name + variant for name, _, variant in ROUTES]
)
def test_page_has_no_axe_violations(
    name: str,
    route: str,
    variant: str,
    site: Site,
    signed_in: Page,
    anonymous: Page,
    axe_source: str,
) -> None:
    page = anonymous if _is_anonymous(name, route) else signed_in
    url = _url_for(site, name, route, variant)
    # Probed first with the page's own cookies: Chromium shows an empty 405 as an error page.
    probe = page.request.get(url)
    if probe.status == 405:
        pytest.skip(f"{name}: GET answers 405 (a form's POST target, not a page)")
    content_type = probe.headers.get("content-type", "")
    if not content_type.startswith("text/html"):
        pytest.skip(f"{name}: answers {content_type}, not a page")
    if probe.status == 200 and "<html" not in probe.text()[:2000].lower():
        pytest.skip(f"{name}: an htmx fragment, checked inside the page that loads it")
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {probe.status}"
    page.evaluate(axe_source)
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations = results["violations"]
    assert not violations, f"{url} ({page.url}):\n{_readable(violations)}"
