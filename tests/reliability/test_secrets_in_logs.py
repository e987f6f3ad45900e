"""No secret minted during the flows below ever reaches a log record or an audit event.

Every log record of every logger is captured at DEBUG (the root logger), including each
SQL statement with its parameters (``django.db.backends`` with a debug cursor), so a
plaintext secret written to the database would show up too. The flows mint every kind of
secret DESIGN.md §9 names, through the API and the web pages, and use them, including the
failure paths that log (wrong signature, revoked token, failed pull, a spent invite link):

- webhook secrets: bound and rotated through the API and the web page, then used;
- API tokens: created through the API and the web page, used, revoked, used again;
- https_get bearer tokens: bound through the API and the web page, pulled (ok and refused);
- Google OAuth tokens: a connection made through the web flow against the local stand-in,
  a sheets pull, an expired access token refreshed, and the OAuth client secret;
- invite links and the admin's password.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from standardwebhooks import Webhook
from tests.connectors.google_standin import (
    CLIENT_SECRET,
    GoogleStandIn,
    connect_through_web,
    running_standin,
)
from tests.factories import PASSWORD, KpiFactory, MembershipFactory
from tests.json_endpoint import JsonEndpoint, Reply, make_certificates

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import GoogleConnection
from pulseboard.core import clock
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)
BASE_URL = "http://testserver"
SHEET_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_sheet"


class Recorder(logging.Handler):
    """Keeps what any formatter could write: message, arguments, plain extras, exception, stack."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("factory."):
            return  # the test's own data builder (it logs the factory password), not the app
        extras = [repr(v) for v in record.__dict__.values() if isinstance(v, str | int | float)]
        parts = [record.name, record.getMessage(), repr(record.args), *extras]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            parts.append(record.stack_info)
        self.texts.append("\n".join(parts))


@pytest.fixture
def logs() -> Iterator[Recorder]:
    recorder = Recorder()
    root = logging.getLogger()
    sql = logging.getLogger("django.db.backends")
    levels = (root.level, sql.level)
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    sql.setLevel(logging.DEBUG)
    connection.force_debug_cursor = True
    try:
        yield recorder
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(recorder)
        root.setLevel(levels[0])
        sql.setLevel(levels[1])


@pytest.fixture
def admin(settings: Any) -> Membership:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return MembershipFactory(role="admin")


@pytest.fixture
def outside(tmp_path: Path, settings: Any) -> Iterator[tuple[JsonEndpoint, GoogleStandIn]]:
    """The HTTPS JSON server and the Google stand-in, trusted and reachable on loopback."""
    certificates = make_certificates(tmp_path)
    with (
        JsonEndpoint(certificates.server) as endpoint,
        running_standin(tmp_path) as google,
    ):
        # One CA bundle must trust both servers: concatenate their CAs.
        bundle = tmp_path / "both.pem"
        bundle.write_text(Path(certificates.ca_path).read_text() + google.ca_path.read_text())
        settings.PULSEBOARD = {
            **settings.PULSEBOARD,
            **google.settings(),
            "CA_BUNDLE": str(bundle),
            "BASE_URL": BASE_URL,
            "API_WRITE_RATE": "100000/minute",
        }
        google.set_cell(SHEET_ID, "Sheet1", "B2", "42")
        yield endpoint, google


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern} not in the page"
    return match.group(1)


def test_no_minted_secret_appears_in_any_log_record_or_audit_event(
    logs: Recorder, admin: Membership, outside: tuple[JsonEndpoint, GoogleStandIn]
) -> None:
    endpoint, google = outside
    minted: dict[str, str] = {"password": PASSWORD, "oauth client secret": CLIENT_SECRET}
    kpis = [KpiFactory(org=admin.org, published=True) for _ in range(5)]

    # A person logs in through the form (the password is a secret too).
    browser = Client()
    answer = browser.post("/login/", {"username": admin.user.email, "password": PASSWORD})
    assert answer.status_code == 302
    browser.post("/login/", {"username": admin.user.email, "password": "wrong-" + PASSWORD})

    # API tokens: one from the web page, one from the API itself.
    page = browser.post("/settings/tokens/new/", {"name": "web", "scope": "admin"}).content.decode()
    minted["api token (web)"] = found(r'id="new-token"[^>]*value="([^"]+)"', page)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {minted['api token (web)']}")
    made = api.post("/api/v1/tokens", {"name": "api", "scope": "admin"}, "application/json")
    assert made.status_code == 201, made.content
    minted["api token (api)"] = made.json()["token"]
    assert api.get("/api/v1/kpis").status_code == 200
    revoked = made.json()["id"]
    assert api.delete(f"/api/v1/tokens/{revoked}").status_code == 204
    stale = Client(HTTP_AUTHORIZATION=f"Bearer {minted['api token (api)']}")
    assert stale.get("/api/v1/kpis").status_code == 401

    # Webhook secrets: API bind and rotate; web bind and rotate; then deliveries.
    hook_api, hook_web = kpis[0].pk, kpis[1].pk
    bound = api.put(
        f"/api/v1/kpis/{hook_api}/source", {"kind": "webhook", "config": {}}, "application/json"
    )
    minted["webhook secret (api bind)"] = bound.json()["secret"]
    rotated = api.post(f"/api/v1/kpis/{hook_api}/source/rotate-secret")
    minted["webhook secret (api rotate)"] = rotated.json()["secret"]
    secret_pattern = r'id="webhook-secret" class="secret">([^<]+)<'
    page = browser.post(f"/settings/kpis/{hook_web}/source/", {"kind": "webhook"})
    minted["webhook secret (web bind)"] = found(secret_pattern, page.content.decode())
    page = browser.post(f"/settings/kpis/{hook_web}/source/rotate/")
    minted["webhook secret (web rotate)"] = found(secret_pattern, page.content.decode())
    for kpi_id, secret, status in (
        (hook_api, minted["webhook secret (api rotate)"], 200),
        (hook_api, minted["webhook secret (api bind)"], 401),
        (hook_web, minted["webhook secret (web rotate)"], 200),
        (hook_web, minted["webhook secret (web bind)"], 401),
    ):
        body = json.dumps({"value": 7})
        webhook_id = f"msg_{secrets.token_hex(6)}"
        moment = clock.now()
        response = Client().post(
            f"/hooks/kpis/{kpi_id}",
            body,
            "application/json",
            HTTP_WEBHOOK_ID=webhook_id,
            HTTP_WEBHOOK_TIMESTAMP=str(int(moment.timestamp())),
            HTTP_WEBHOOK_SIGNATURE=Webhook(secret).sign(webhook_id, moment, body),
        )
        assert response.status_code == status, response.content

    # Bearer tokens of https_get sources: API and web; one server accepts, one refuses.
    minted["bearer token (api)"] = "tok_" + secrets.token_urlsafe(24)
    minted["bearer token (web)"] = "tok_" + secrets.token_urlsafe(24)
    endpoint.replies["/refused"] = Reply(status=401, body=b'{"error": "bad token"}')
    config = {
        "url": endpoint.url("/ok"),
        "json_path": "$.value",
        "bearer_token": minted["bearer token (api)"],
    }
    bound = api.put(
        f"/api/v1/kpis/{kpis[2].pk}/source",
        {"kind": "https_get", "config": config},
        "application/json",
    )
    assert bound.status_code == 200, bound.content
    page = browser.post(
        f"/settings/kpis/{kpis[3].pk}/source/",
        {
            "kind": "https_get",
            "https_get-url": endpoint.url("/refused"),
            "https_get-json_path": "$.value",
            "https_get-bearer_token": minted["bearer token (web)"],
        },
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    assert api.post(f"/api/v1/kpis/{kpis[2].pk}/source/pull").json()["ok"] is True
    assert api.post(f"/api/v1/kpis/{kpis[3].pk}/source/pull").json()["ok"] is False
    sent = {hit.authorization for hits in endpoint.hits.values() for hit in hits}
    assert f"Bearer {minted['bearer token (api)']}" in sent  # the tokens were really used

    # Google: connect through the web flow, bind a cell, pull; expire and refresh; pull.
    final = connect_through_web(browser, google, BASE_URL)
    assert final.status_code == 200
    connection_id = GoogleConnection.objects.get(user=admin.user).pk
    sheet = {"connection_id": connection_id, "spreadsheet": SHEET_ID, "tab": "Sheet1", "cell": "B2"}
    bound = browser.post(
        f"/settings/kpis/{kpis[4].pk}/source/",
        {"kind": "sheets", **{f"sheets-{name}": str(value) for name, value in sheet.items()}},
    )
    assert bound.status_code == 302, bound.content.decode()[:2000]
    assert api.post(f"/api/v1/kpis/{kpis[4].pk}/source/pull").json()["ok"] is True
    google.expire_access_tokens()
    assert api.post(f"/api/v1/kpis/{kpis[4].pk}/source/pull").json()["ok"] is True
    for number, token in enumerate(google.all_tokens()):
        minted[f"google token {number}"] = token

    # Invite links: minted, used, then opened again (refused, and so logged).
    page = browser.post("/settings/members/invite/", {"email": "", "role": "member"})
    link = found(r'id="invite-link"[^>]*value="([^"]+)"', page.content.decode())
    minted["invite token"] = link.rstrip("/").rsplit("/", 1)[1]
    path = link[len(BASE_URL) :]
    # A refused form on a live link is logged (422) with the link's path.
    assert Client().post(path, {"email": "not-an-address", "password": ""}).status_code == 422
    joined = Client().post(path, {"email": "new@example.com", "password": "a-Long-new-passw0rd"})
    assert joined.status_code == 302, joined.content.decode()[:2000]
    assert Client().get(path).status_code == 410

    print(f"\nsecrets minted and checked: {len(minted)}; log records: {len(logs.texts)}")
    assert len(minted) >= 14
    assert len(logs.texts) > 50, "the recorder saw (almost) nothing: is logging captured?"
    everything = "\n".join(logs.texts)
    leaked = sorted(name for name, secret in minted.items() if secret in everything)
    assert leaked == [], f"secrets in the logs: {leaked}"
    audit = json.dumps(
        list(AuditEvent.objects.values("action", "target_label", "before", "after")), default=str
    )
    in_audit = sorted(name for name, secret in minted.items() if secret in audit)
    assert in_audit == [], f"secrets in audit events: {in_audit}"
