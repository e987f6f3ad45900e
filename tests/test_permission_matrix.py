"""Who may reach what: every URL pattern of the project, for every kind of caller.

The routes come from the root URLconf itself (web and API, ninja's included),
walked at collection time; the methods each route accepts are asked of the
route (a TRACE answers 405 with ``Allow``). Every (route, method) needs a row
in ``EXPECTATIONS``: a new route without one fails here, naming itself, so no
route can appear without someone deciding who may use it.

Callers: ``anonymous``; ``read`` (a read-scoped token of org A, no session);
``member`` (a member of org A signed in, no token); ``admin`` (an admin of org A
signed in AND carrying an admin token, so web routes see the session and API
routes the token); ``other_admin`` (the same for org B). Object routes are
built with org A's real ids. Another org's admin must get 404 on every object
route, and no answer to ``anonymous`` or ``other_admin`` may contain org A's
ids, titles or e-mail addresses.

Adding a route = one line in ``EXPECTATIONS`` (and, for a new URL parameter,
one line in ``PARAMS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode
from tests.factories import (
    CycleFactory,
    KeyResultFactory,
    KpiFactory,
    MembershipFactory,
    ObjectiveFactory,
    OrganizationFactory,
)

from pulseboard.connectors.models import GoogleConnection
from pulseboard.core.actors import Actor
from pulseboard.history.annotations import annotation_add
from pulseboard.orgs.services import member_invite, token_create
from pulseboard.orgs.teams import team_create
from pulseboard.sharing.services import share_link_create

PRINCIPALS = ("anonymous", "read", "member", "admin", "other_admin")
SAFE = ("GET", "HEAD", "OPTIONS")
# Requests run in this order within one case so a DELETE never hides a later check.
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


class Outcome(StrEnum):
    OK = "2xx"
    REDIRECT = "3xx (not to login)"
    LOGIN = "redirect to login"
    UNAUTHORIZED = "401"
    FORBIDDEN = "403"
    NOT_FOUND = "404"
    CONFLICT = "409"
    INVALID = "400/422"


OK, REDIRECT, LOGIN = Outcome.OK, Outcome.REDIRECT, Outcome.LOGIN
UNAUTHORIZED, FORBIDDEN, NOT_FOUND = Outcome.UNAUTHORIZED, Outcome.FORBIDDEN, Outcome.NOT_FOUND
INVALID, CONFLICT = Outcome.INVALID, Outcome.CONFLICT


@dataclass(frozen=True)
class Expect:
    anonymous: Outcome
    read: Outcome
    member: Outcome
    admin: Outcome
    other_admin: Outcome
    json: Any = None  # API request body
    # Web POST data; "{name}" is replaced by the pk of org A's object of that name.
    form: dict[str, str] = field(default_factory=dict)
    # Only for routes whose object is reached by a secret in the link or a signature
    # (invite links, password reset links, signed webhooks), not by org membership.
    cross_org: bool = False

    def but(self, **changes: Any) -> Expect:
        return replace(self, **changes)


def everyone(outcome: Outcome, **changes: Any) -> Expect:
    return Expect(outcome, outcome, outcome, outcome, outcome, **changes)


# API: tokens only; a session is not an API credential (member -> 401).
API_ANY_TOKEN = Expect(UNAUTHORIZED, OK, UNAUTHORIZED, OK, OK)
API_READ_OBJECT = Expect(UNAUTHORIZED, OK, UNAUTHORIZED, OK, NOT_FOUND)
API_ADMIN = Expect(UNAUTHORIZED, FORBIDDEN, UNAUTHORIZED, OK, OK)
API_ADMIN_OBJECT = Expect(UNAUTHORIZED, FORBIDDEN, UNAUTHORIZED, OK, NOT_FOUND)
# Web: sessions only; a token is not a web credential (read -> login).
WEB_MEMBER = Expect(LOGIN, LOGIN, OK, OK, OK)
WEB_MEMBER_OBJECT = Expect(LOGIN, LOGIN, OK, OK, NOT_FOUND)
WEB_OWN_OBJECT = Expect(LOGIN, LOGIN, NOT_FOUND, OK, NOT_FOUND)
WEB_ADMIN = Expect(LOGIN, LOGIN, FORBIDDEN, OK, OK)
WEB_ADMIN_OBJECT = Expect(LOGIN, LOGIN, FORBIDDEN, OK, NOT_FOUND)
# Web forms posted empty: an admin gets past the permission check to the form's
# own answer (re-rendered with errors, or done and redirected).
EMPTY_FORM = WEB_ADMIN.but(admin=INVALID, other_admin=INVALID)
ADMIN_ACTION = WEB_ADMIN_OBJECT.but(admin=REDIRECT)
LIVE_POLL = Expect(UNAUTHORIZED, UNAUTHORIZED, OK, OK, OK)

EXPECTATIONS: dict[str, dict[str, Expect]] = {
    # --- API ----------------------------------------------------------------------------
    "api:api-root": {"GET": everyone(NOT_FOUND)},
    "api:openapi-json": {"GET": everyone(OK)},
    "api:openapi-view": {"GET": everyone(OK)},
    "api:kpi-list": {
        "GET": API_ANY_TOKEN,
        "POST": API_ADMIN.but(json={"title": "Made here", "shape": "stay_above", "threshold": 1}),
    },
    "api:kpi-detail": {
        "GET": API_READ_OBJECT,
        "PATCH": API_ADMIN_OBJECT.but(json={"title": "Renamed"}),
        "DELETE": API_ADMIN_OBJECT,
    },
    # The caller's own org's published KPIs: another org's admin reads its own (empty) tree.
    "api:kpi-tree": {"GET": API_ANY_TOKEN},
    "api:kpi-value": {"PUT": API_ADMIN_OBJECT.but(json={"value": 5})},
    "api:kpi-history": {"GET": API_READ_OBJECT},
    "api:kpi-status-changes": {"GET": API_READ_OBJECT},
    # Notes: any token reads, an admin token writes (a token is no member).
    "api:kpi-annotations": {
        "GET": API_READ_OBJECT,
        "POST": API_ADMIN_OBJECT.but(json={"text": "A note"}),
    },
    "api:annotation-detail": {"DELETE": API_ADMIN_OBJECT},
    # Posted empty: an admin gets past the checks to the importer's 422 (empty body).
    "api:kpi-history-import": {"POST": API_ADMIN_OBJECT.but(admin=INVALID)},
    # A batch naming a KPI no org has: "no such KPI" (422) for every admin.
    "api:values-batch": {
        "POST": API_ADMIN.but(
            admin=INVALID, other_admin=INVALID, json=[{"kpi_id": "nosuchkpi", "value": 1}]
        )
    },
    "api:kpi-source": {
        "GET": API_READ_OBJECT,
        "PUT": API_ADMIN_OBJECT.but(json={"kind": "manual", "config": {}}),
    },
    # The KPI's source is manual: no secret to rotate, nothing to pull.
    "api:kpi-source-rotate": {"POST": API_ADMIN_OBJECT.but(admin=CONFLICT)},
    "api:kpi-source-pull": {"POST": API_ADMIN_OBJECT.but(admin=CONFLICT)},
    "api:kpi-source-attempts": {"GET": API_ADMIN_OBJECT},
    "api:kpi-targets": {
        "GET": API_READ_OBJECT,
        "PUT": API_ADMIN_OBJECT.but(
            json=[{"effective_from": "2027-01-01T00:00:00Z", "threshold": 5}]
        ),
    },
    "api:parse-title": {"POST": API_ANY_TOKEN.but(json={"title": "NPS above 35"})},
    "api:audit-list": {"GET": API_ADMIN},
    "api:token-list": {
        "GET": API_ADMIN,
        "POST": API_ADMIN.but(json={"name": "n", "scope": "read"}),
    },
    "api:token-detail": {"DELETE": API_ADMIN_OBJECT},
    # Share links: any token lists them (no tokens in the list), admin tokens write.
    "api:share-link-list": {"GET": API_ANY_TOKEN, "POST": API_ADMIN.but(json={"name": "n"})},
    "api:share-link-detail": {"DELETE": API_ADMIN_OBJECT},
    # Teams: any token reads, admin tokens write; members (e-mail addresses): admin tokens.
    "api:team-list": {"GET": API_ANY_TOKEN, "POST": API_ADMIN.but(json={"name": "Made here"})},
    "api:team-detail": {
        "PATCH": API_ADMIN_OBJECT.but(json={"name": "Renamed"}),
        "DELETE": API_ADMIN_OBJECT,
    },
    "api:member-list": {"GET": API_ADMIN},
    # Goals: any token reads, admin tokens write (check-ins too: a token is no person).
    "api:cycle-list": {
        "GET": API_ANY_TOKEN,
        "POST": API_ADMIN.but(
            json={"name": "Q", "starts_on": "2027-01-01", "ends_on": "2027-03-31"}
        ),
    },
    # The cycle has an objective: deleting it is refused until that is gone.
    "api:cycle-detail": {
        "GET": API_READ_OBJECT,
        "PATCH": API_ADMIN_OBJECT.but(json={"name": "Renamed"}),
        "DELETE": API_ADMIN_OBJECT.but(admin=CONFLICT),
    },
    # A body naming a cycle no org has: 422 for every admin.
    "api:objective-list": {
        "GET": API_ANY_TOKEN,
        "POST": API_ADMIN.but(
            admin=INVALID, other_admin=INVALID, json={"title": "T", "cycle_id": "nosuchcycle"}
        ),
    },
    "api:objective-detail": {
        "GET": API_READ_OBJECT,
        "PATCH": API_ADMIN_OBJECT.but(json={"title": "Renamed"}),
        "DELETE": API_ADMIN_OBJECT,
    },
    "api:objective-key-results": {
        "POST": API_ADMIN_OBJECT.but(json={"title": "K", "kind": "stay_above", "target_value": 1})
    },
    "api:key-result-detail": {
        "GET": API_READ_OBJECT,
        "PATCH": API_ADMIN_OBJECT.but(json={"title": "Renamed"}),
        "DELETE": API_ADMIN_OBJECT,
    },
    "api:key-result-check-ins": {"POST": API_ADMIN_OBJECT.but(json={"value": 5})},
    "api:key-result-progress": {"GET": API_READ_OBJECT},
    # The org is the token's own: another org's admin reads and renames its own org.
    "api:org": {"GET": API_ANY_TOKEN, "PATCH": API_ADMIN.but(json={"name": "Renamed"})},
    # The signature over the body authenticates a webhook; without it, 401 for all.
    "hooks-kpi": {"POST": everyone(UNAUTHORIZED, cross_org=True)},
    # --- ops: load balancers and Prometheus call these without credentials --------------
    "healthz": {"GET": everyone(OK)},
    "readyz": {"GET": everyone(OK)},
    "metrics": {"GET": everyone(OK)},
    # --- web: sign-in, password reset, invites -----------------------------------------
    "web:login": {
        "GET": Expect(OK, OK, REDIRECT, REDIRECT, REDIRECT),
        "POST": Expect(OK, OK, REDIRECT, REDIRECT, REDIRECT),
        "PUT": Expect(OK, OK, REDIRECT, REDIRECT, REDIRECT),
    },
    "web:logout": {"POST": everyone(LOGIN)},
    "web:password-reset": {"GET": everyone(OK), "POST": everyone(OK), "PUT": everyone(OK)},
    # Tests run without e-mail: the "check your e-mail" page leads back to the reset page.
    "web:password-reset-done": {"GET": everyone(REDIRECT)},
    "web:password-reset-confirm": {"GET": everyone(REDIRECT, cross_org=True)},
    "web:password-reset-complete": {"GET": everyone(OK)},
    # Whoever holds an open invite link may join (an e-mail-bound invite checks more).
    "web:invite-accept": {
        "GET": everyone(OK, cross_org=True),
        "POST": Expect(INVALID, INVALID, CONFLICT, CONFLICT, REDIRECT, cross_org=True),
    },
    # Switching into org A must fail for B's admin: the leak check reads where it lands.
    "web:org-switch": {
        "POST": Expect(LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT, form={"org_id": "{org}"})
    },
    # --- web: members' pages ------------------------------------------------------------
    "web:home": {"GET": WEB_MEMBER},
    # Team boards: members read; the default board is each member's own (posted empty:
    # the org board).
    "web:team-board": {"GET": WEB_MEMBER_OBJECT},
    "web:live-team-board": {"GET": Expect(UNAUTHORIZED, UNAUTHORIZED, OK, OK, NOT_FOUND)},
    "web:profile-board": {
        "GET": WEB_MEMBER,
        "POST": Expect(LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT),
    },
    # Goals: members read; the key result's owner or an admin checks in (org A's key
    # result has no owner, so its member gets 403); admins write.
    "web:goals": {"GET": WEB_MEMBER},
    "web:tree": {"GET": WEB_MEMBER},
    "web:live-tree": {"GET": LIVE_POLL},
    "web:objective-detail": {"GET": WEB_MEMBER_OBJECT},
    "web:key-result-detail": {"GET": WEB_MEMBER_OBJECT},
    "web:key-result-check-in": {
        "POST": WEB_MEMBER_OBJECT.but(member=FORBIDDEN, admin=REDIRECT, form={"value": "5"})
    },
    "web:kpi-detail": {"GET": WEB_MEMBER_OBJECT},
    "web:kpi-history-csv": {"GET": WEB_MEMBER_OBJECT},
    "web:kpi-history-json": {"GET": WEB_MEMBER_OBJECT},
    # Live polls (web/live.py): a signed-out poll gets 401 with HX-Refresh, not a login page.
    "web:live-home": {"GET": LIVE_POLL},
    "web:live-kpi": {"GET": LIVE_POLL.but(other_admin=NOT_FOUND)},
    "web:live-goals": {"GET": LIVE_POLL},
    "web:tv": {"GET": WEB_MEMBER},
    "web:tv-board": {"GET": LIVE_POLL},
    # Any member notes a KPI; org A's note is the admin's, so its member may not delete it.
    "web:annotation-add": {
        "POST": WEB_MEMBER_OBJECT.but(member=REDIRECT, admin=REDIRECT, form={"text": "A note"})
    },
    "web:annotation-delete": {"POST": WEB_MEMBER_OBJECT.but(member=FORBIDDEN, admin=REDIRECT)},
    "web:kpi-value": {"GET": ADMIN_ACTION, "POST": ADMIN_ACTION},
    "web:connections": {"GET": WEB_MEMBER},
    # Members are sent back to the page with a message; admins go on to Google.
    "web:connections-start": {"POST": Expect(LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT)},
    "web:connections-callback": {"GET": Expect(LOGIN, LOGIN, REDIRECT, REDIRECT, REDIRECT)},
    "web:connections-disconnect": {
        "GET": WEB_OWN_OBJECT,
        "POST": WEB_OWN_OBJECT.but(admin=REDIRECT),
    },
    # --- web: admin settings ------------------------------------------------------------
    "web:settings-kpis": {"GET": WEB_ADMIN},
    "web:cycle-create": {"GET": WEB_ADMIN, "POST": EMPTY_FORM},
    "web:cycle-edit": {"GET": WEB_ADMIN_OBJECT, "POST": WEB_ADMIN_OBJECT.but(admin=INVALID)},
    # Org A's cycle has an objective: deleting it is refused until that is gone.
    "web:cycle-delete": {"GET": WEB_ADMIN_OBJECT, "POST": WEB_ADMIN_OBJECT.but(admin=CONFLICT)},
    "web:objective-create": {"GET": WEB_ADMIN, "POST": EMPTY_FORM},
    "web:objective-edit": {"GET": WEB_ADMIN_OBJECT, "POST": WEB_ADMIN_OBJECT.but(admin=INVALID)},
    "web:objective-delete": {"GET": WEB_ADMIN_OBJECT, "POST": ADMIN_ACTION},
    "web:key-result-create": {"GET": WEB_ADMIN, "POST": EMPTY_FORM},
    "web:key-result-edit": {
        "GET": WEB_ADMIN_OBJECT,
        "POST": WEB_ADMIN_OBJECT.but(admin=INVALID),
    },
    "web:key-result-delete": {"GET": WEB_ADMIN_OBJECT, "POST": ADMIN_ACTION},
    "web:kpi-create": {"GET": WEB_ADMIN, "POST": EMPTY_FORM},
    "web:kpi-suggest": {"POST": WEB_ADMIN},
    "web:kpi-preview": {"POST": WEB_ADMIN},
    "web:kpi-edit": {"GET": WEB_ADMIN_OBJECT, "POST": WEB_ADMIN_OBJECT.but(admin=INVALID)},
    "web:kpi-publish": {"POST": ADMIN_ACTION},
    "web:kpi-move": {"POST": ADMIN_ACTION},
    "web:kpi-delete": {"GET": WEB_ADMIN_OBJECT, "POST": ADMIN_ACTION},
    # Posted without a file: the admin gets the page back with "Choose a CSV file" (422).
    "web:kpi-history-import": {
        "GET": WEB_ADMIN_OBJECT,
        "POST": WEB_ADMIN_OBJECT.but(admin=INVALID),
    },
    "web:kpi-source": {"GET": WEB_ADMIN_OBJECT, "POST": WEB_ADMIN_OBJECT.but(admin=INVALID)},
    "web:kpi-source-rotate": {
        "GET": WEB_ADMIN_OBJECT,
        "POST": WEB_ADMIN_OBJECT.but(admin=CONFLICT),
    },
    "web:kpi-source-pull": {"POST": ADMIN_ACTION},
    # Posted empty: no rows, so the schedule is cleared and the admin is sent back to it.
    "web:kpi-targets": {"GET": WEB_ADMIN_OBJECT, "POST": ADMIN_ACTION},
    "web:members": {"GET": WEB_ADMIN},
    # Posted empty: a team needs a name (422).
    "web:teams": {"GET": WEB_ADMIN, "POST": EMPTY_FORM},
    "web:team-rename": {"POST": WEB_ADMIN_OBJECT.but(admin=INVALID)},
    "web:team-delete": {"GET": WEB_ADMIN_OBJECT, "POST": ADMIN_ACTION},
    "web:member-invite": {"POST": EMPTY_FORM},
    "web:member-role": {"POST": ADMIN_ACTION},
    "web:member-remove": {"GET": WEB_ADMIN_OBJECT, "POST": ADMIN_ACTION},
    "web:invite-revoke": {"POST": ADMIN_ACTION},
    "web:tokens": {"GET": WEB_ADMIN},
    "web:token-create": {"POST": EMPTY_FORM},
    "web:token-revoke": {"POST": ADMIN_ACTION},
    "web:share-links": {"GET": WEB_ADMIN},
    "web:share-link-create": {"POST": EMPTY_FORM},
    "web:share-link-revoke": {"POST": ADMIN_ACTION},
    # --- share links: the token in the URL is the credential, for anyone who has it ----
    "web:share-board": {"GET": everyone(OK, cross_org=True)},
    "web:share-badge": {"GET": everyone(OK, cross_org=True)},
    "web:share-tile": {"GET": everyone(OK, cross_org=True)},
    "web:share-not-found": {"GET": everyone(NOT_FOUND, cross_org=True)},
    "web:audit": {"GET": WEB_ADMIN},
    "web:org-settings": {"GET": WEB_ADMIN, "POST": EMPTY_FORM},
}


@dataclass
class World:
    """Org A with one of everything, org B with its own admin, and a client per caller."""

    objects: dict[str, Any]
    clients: dict[str, Client]
    markers: list[str]  # text of org A that only org A's callers may ever see


# URL parameter -> the org A object (or value) to put in it; "route-name.param"
# entries win over plain "param" ones where one name means different things.
PARAMS: dict[str, Callable[[World], str]] = {
    "kpi_id": lambda w: w.objects["kpi"].pk,
    "annotation_id": lambda w: w.objects["annotation"].pk,
    "cycle_id": lambda w: w.objects["cycle"].pk,
    "objective_id": lambda w: w.objects["objective"].pk,
    "key_result_id": lambda w: w.objects["key_result"].pk,
    "token_id": lambda w: w.objects["token"].pk,
    "connection_id": lambda w: w.objects["connection"].pk,
    "membership_id": lambda w: str(w.objects["membership"].pk),
    "invite_id": lambda w: w.objects["invite"].pk,
    "share_link_id": lambda w: w.objects["share_link"].pk,
    "token": lambda w: w.objects["share_token"],
    "rest": lambda w: "elsewhere",
    "web:share-badge.kpi_id": lambda w: w.objects["shared_kpi"].pk,
    "web:share-tile.kpi_id": lambda w: w.objects["shared_kpi"].pk,
    "team_id": lambda w: w.objects["team"].pk,
    "team_slug": lambda w: w.objects["team"].slug,
    "web:invite-accept.token": lambda w: w.objects["invite_link"],
    "web:password-reset-confirm.uidb64": lambda w: w.objects["reset_uid"],
    "web:password-reset-confirm.token": lambda w: w.objects["reset_token"],
}


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    params: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            converters = getattr(entry.pattern, "converters", {}) or {}
            groups = tuple(entry.pattern.regex.groupindex)
            params = tuple(dict.fromkeys([*converters, *groups]))
            yield Route(f"{namespace}{entry.name}" if entry.name else "", route, params)


def project_routes() -> list[Route]:
    """Every distinct route of the root URLconf (ninja yields one pattern per operation)."""
    return list(dict.fromkeys(_walk(get_resolver().url_patterns)))


ROUTES = project_routes()


def test_every_route_has_a_unique_name() -> None:
    unnamed = [r.route for r in ROUTES if not r.name]
    assert not unnamed, f"routes without a name cannot be checked: {unnamed}"
    by_name: dict[str, set[str]] = {}
    for route in ROUTES:
        by_name.setdefault(route.name, set()).add(route.route)
    shared = {name: routes for name, routes in by_name.items() if len(routes) > 1}
    assert not shared, f"one name for several routes hides all but one of them: {shared}"


def test_no_expectation_names_a_route_that_does_not_exist() -> None:
    stale = set(EXPECTATIONS) - {r.name for r in ROUTES}
    assert not stale, f"EXPECTATIONS lists routes that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.params], ids=lambda r: r.name)
def test_another_orgs_admin_gets_404_on_every_object_route(route: Route) -> None:
    for method, expect in EXPECTATIONS.get(route.name, {}).items():
        if expect.cross_org:
            continue
        assert expect.other_admin == NOT_FOUND, (
            f"{route.name} {method} takes an object id: another org's admin must get 404"
        )


@pytest.fixture
def world(settings: Any) -> World:
    # A fast hasher: this fixture runs once per route and caller.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    org, other = OrganizationFactory(), OrganizationFactory()
    admin = MembershipFactory(org=org, role="admin").user
    member = MembershipFactory(org=org, role="member").user
    other_admin = MembershipFactory(org=other, role="admin").user
    system = Actor.system("matrix")
    kpi = KpiFactory(org=org, title="Alpha private revenue")
    annotation = annotation_add(kpi=kpi, actor=Actor.for_user(admin), text="Alpha secret note")
    # A manual key result owned by no one: members may read it, not check in on it.
    objective = ObjectiveFactory(cycle=CycleFactory(org=org), title="Alpha secret objective")
    key_result = KeyResultFactory(objective=objective, title="Alpha secret key result")
    token, _ = token_create(org=org, actor=system, name="victim", scope="read")
    _, admin_token = token_create(org=org, actor=system, name="admin", scope="admin")
    _, read_token = token_create(org=org, actor=system, name="reader", scope="read")
    _, other_token = token_create(org=other, actor=system, name="theirs", scope="admin")
    membership = member.memberships.get(org=org)
    team = team_create(org=org, actor=system, name="Alpha secret team")
    invite, invite_link = member_invite(org=org, actor=system, role="member")
    # A share link showing one KPI of its own (not one of the markers below).
    shared_kpi = KpiFactory(org=org, title="Lobby number")
    share_link, share_token = share_link_create(
        org=org, actor=system, name="Lobby", kpi_ids=[shared_kpi.pk]
    )
    # No refresh token and an undecryptable access token: disconnecting makes no call out.
    connection = GoogleConnection.objects.create(
        org=org, user=admin, google_email="alpha@example.com", access_token_encrypted="x"
    )

    def client(user: Any = None, token: str | None = None) -> Client:
        made = Client(headers={"Authorization": f"Bearer {token}"} if token else {})
        if user is not None:
            made.force_login(user)
        return made

    clients = {
        "anonymous": client(),
        "read": client(token=read_token),
        "member": client(member),
        "admin": client(admin, admin_token),
        "other_admin": client(other_admin, other_token),
    }
    objects = {
        "org": org,
        "kpi": kpi,
        "annotation": annotation,
        "cycle": objective.cycle,
        "objective": objective,
        "key_result": key_result,
        "token": token,
        "connection": connection,
        "membership": membership,
        "invite": invite,
        "invite_link": invite_link,
        "share_link": share_link,
        "share_token": share_token,
        "shared_kpi": shared_kpi,
        "team": team,
        "reset_uid": urlsafe_base64_encode(force_bytes(member.pk)),
        "reset_token": default_token_generator.make_token(member),
    }
    markers = [kpi.pk, kpi.title, token.pk, connection.pk, invite.pk, admin.email, member.email]
    markers += [annotation.pk, annotation.text]
    markers += [objective.cycle_id, objective.pk, objective.title, key_result.pk, key_result.title]
    markers += [team.pk, team.name]
    return World(objects=objects, clients=clients, markers=markers)


def _param(route: Route, name: str) -> Callable[[World], str] | None:
    return PARAMS.get(f"{route.name}.{name}") or PARAMS.get(name)


def _url(route: Route, world: World) -> str:
    missing = [p for p in route.params if _param(route, p) is None]
    assert not missing, f"{route.name} has URL parameter(s) {missing}: add them to PARAMS"
    return reverse(route.name, kwargs={p: _param(route, p)(world) for p in route.params})  # type: ignore[misc]


def accepted_methods(clients: list[Client], url: str) -> set[str]:
    """The methods a route accepts: the Allow header of its 405 to a TRACE, else GET.

    Asked as a signed-in admin (login_required runs before a method check) and as
    an anonymous caller (the login page redirects the signed-in before its own).
    """
    for client in clients:
        response = client.generic("TRACE", url)
        if response.status_code == 405 and response.get("Allow"):
            allowed = {m.strip().upper() for m in response["Allow"].split(",")}
            return allowed - {"HEAD", "OPTIONS", "TRACE"}
    return {"GET"}


def classify(response: HttpResponse) -> Outcome | int:
    status = response.status_code
    if 200 <= status < 300:
        return OK
    if 300 <= status < 400:
        login = reverse(settings.LOGIN_URL)
        return LOGIN if response["Location"].startswith(login) else REDIRECT
    known = {
        400: INVALID,
        401: UNAUTHORIZED,
        403: FORBIDDEN,
        404: NOT_FOUND,
        409: CONFLICT,
        422: INVALID,
    }
    return known.get(status, status)


def _send(client: Client, method: str, url: str, expect: Expect, world: World) -> HttpResponse:
    if url.startswith("/api/"):
        body = "" if expect.json is None else json.dumps(expect.json)
        return client.generic(method, url, body, content_type="application/json")  # type: ignore[return-value]
    if method == "GET":
        return client.get(url)  # type: ignore[return-value]
    ids = {name: getattr(obj, "pk", obj) for name, obj in world.objects.items()}
    form = {key: value.format(**ids) for key, value in expect.form.items()}
    return client.generic(  # type: ignore[return-value]
        method, url, urlencode(form), content_type="application/x-www-form-urlencoded"
    )


def _content(response: HttpResponse) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    return raw.decode(errors="replace")


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name or r.route)
def test_route_answers_each_caller_as_expected(route: Route, world: World) -> None:
    expectations = EXPECTATIONS.get(route.name)
    assert expectations is not None, (
        f"new route {route.name} ({route.route}) has no permission expectation: "
        "add it to EXPECTATIONS in tests/test_permission_matrix.py"
    )
    url = _url(route, world)
    methods = accepted_methods([world.clients["admin"], world.clients["anonymous"]], url)
    unlisted = methods - set(expectations)
    assert not unlisted, f"{route.name} accepts {sorted(unlisted)} with no permission expectation"
    absent = set(expectations) - methods
    assert not absent, f"EXPECTATIONS lists {sorted(absent)} for {route.name}, which refuses them"
    wrong = []
    for principal in PRINCIPALS:
        # Each caller meets the same org A: whatever it changed (a DELETE, a used
        # invite link) is rolled back before the next one.
        with transaction.atomic():
            for method in sorted(methods, key=lambda m: METHOD_ORDER.get(m, 9)):
                wrong += _check(world, principal, method, url, expectations[method])
            transaction.set_rollback(True)
    assert not wrong, "\n".join(wrong)


def _check(world: World, principal: str, method: str, url: str, expect: Expect) -> list[str]:
    client = world.clients[principal]
    response = _send(client, method, url, expect, world)
    got = classify(response)
    wanted = getattr(expect, principal)
    wrong = []
    if got != wanted:
        wrong.append(f"{method} {url} as {principal}: expected {wanted}, got {got}")
    if principal in ("anonymous", "other_admin"):
        pages = [response]
        # Where a redirect lands counts too (e.g. "switched" into another org).
        if got == REDIRECT and not expect.cross_org:
            pages.append(client.get(response["Location"]))
        leaked = [m for m in world.markers for page in pages if m in _content(page)]
        if leaked:
            wrong.append(f"{method} {url} as {principal} leaked org A's {leaked}")
    return wrong
