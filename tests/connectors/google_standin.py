"""A local stand-in for Google's OAuth and Sheets endpoints, speaking the same HTTP API.

HTTPS on 127.0.0.1 with a trustme certificate, run in a thread so synchronous Django
views and asynchronous pulls can both reach it. It implements what Pulseboard uses:
the consent page (auto-consents and redirects back with code and state), the token
endpoint (authorization_code with a PKCE S256 check, refresh_token), revocation, and
``spreadsheets.values.get``, which requires a live bearer token. Access tokens carry a
short lifetime and can be expired on demand; every request is recorded so tests can
assert exactly what was sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import trustme
from django.urls import reverse

CLIENT_ID = "standin-client.apps.googleusercontent.com"
CLIENT_SECRET = "standin-secret-not-a-real-one"
SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class Grant:
    """One user's consent: its refresh token and the access tokens minted from it."""

    refresh_token: str
    scope: str
    email: str
    revoked: bool = False
    access_tokens: dict[str, float] = field(default_factory=dict)


@dataclass
class PendingCode:
    challenge: str
    method: str
    redirect_uri: str
    scope: str
    email: str
    used: bool = False


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_id_token(claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(b'not-checked')}"


_RANGE = re.compile(r"'((?:[^']|'')+)'!([A-Z]+[0-9]+)")


class GoogleStandIn:
    def __init__(self, tmp_dir: Path) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        self.ca_path = tmp_dir / "standin-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._context)
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.codes: dict[str, PendingCode] = {}
        self.grants: list[Grant] = []
        self.cells: dict[tuple[str, str, str], str] = {}
        self.access_ttl = 3600
        self.email = "alice@gmail.example"
        self.scope = f"openid {SHEETS_SCOPE} https://www.googleapis.com/auth/userinfo.email"
        self.deny = False
        self.send_refresh_token = True
        self.sheets_status: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        standin = self

        class Handler(_Handler):
            owner = standin

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = self._context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def settings(self) -> dict[str, str]:
        """The PULSEBOARD settings that point Pulseboard at this stand-in."""
        return {
            "GOOGLE_CLIENT_ID": CLIENT_ID,
            "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "GOOGLE_AUTH_URL": f"{self.base_url}/o/oauth2/v2/auth",
            "GOOGLE_TOKEN_URL": f"{self.base_url}/token",
            "GOOGLE_REVOKE_URL": f"{self.base_url}/revoke",
            "GOOGLE_SHEETS_URL": self.base_url,
            "ALLOW_PRIVATE_CIDRS": "127.0.0.1/32",
            "CA_BUNDLE": str(self.ca_path),
        }

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    # --- what tests look at and change ---------------------------------------------------

    def recorded(self, path_prefix: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def all_tokens(self) -> Iterator[str]:
        with self.lock:
            for grant in self.grants:
                yield grant.refresh_token
                yield from grant.access_tokens

    def expire_access_tokens(self) -> None:
        """Google may end an access token before its announced expiry; so can the stand-in."""
        with self.lock:
            for grant in self.grants:
                grant.access_tokens = dict.fromkeys(grant.access_tokens, 0.0)

    def revoke_all(self) -> None:
        """The user removed the app's access in their Google account."""
        with self.lock:
            for grant in self.grants:
                grant.revoked = True

    def live_grants(self) -> list[Grant]:
        with self.lock:
            return [g for g in self.grants if not g.revoked]

    def set_cell(self, spreadsheet_id: str, tab: str, cell: str, text: str | None) -> None:
        with self.lock:
            if text is None:
                self.cells.pop((spreadsheet_id, tab, cell), None)
            else:
                self.cells[(spreadsheet_id, tab, cell)] = text

    def add_tab(self, spreadsheet_id: str, tab: str) -> None:
        """A spreadsheet and tab that exist but whose cells are all empty."""
        with self.lock:
            self.cells.setdefault((spreadsheet_id, tab, ""), "")

    # --- endpoint logic (called by the handler under the lock) -----------------------------

    def _grant_for_access(self, token: str) -> Grant | None:
        for grant in self.grants:
            expires = grant.access_tokens.get(token)
            if expires is not None and not grant.revoked and expires > time.time():
                return grant
        return None

    def _mint_access(self, grant: Grant) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(24)
        grant.access_tokens[token] = time.time() + self.access_ttl
        return {
            "access_token": token,
            "expires_in": self.access_ttl,
            "scope": grant.scope,
            "token_type": "Bearer",
            "id_token": unsigned_id_token(
                {
                    "iss": "https://accounts.google.com",
                    "aud": CLIENT_ID,
                    "sub": "1000" + str(abs(hash(grant.email)) % 10**8),
                    "email": grant.email,
                    "email_verified": True,
                }
            ),
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or not redirect_uri:
            return 400, {}, {"error": "invalid_request"}
        if query.get("response_type") != "code":
            return 400, {}, {"error": "unsupported_response_type"}
        params = {"state": query.get("state", "")}
        if self.deny:
            params["error"] = "access_denied"
        else:
            code = "4/" + secrets.token_urlsafe(16)
            self.codes[code] = PendingCode(
                challenge=query.get("code_challenge", ""),
                method=query.get("code_challenge_method", ""),
                redirect_uri=redirect_uri,
                scope=self.scope,
                email=self.email,
            )
            params["code"] = code
            params["scope"] = self.scope
        location = f"{redirect_uri}?{urllib.parse.urlencode(params)}"
        return 302, {"Location": location}, None

    def _client_ok(self, form: dict[str, str], headers: dict[str, str]) -> bool:
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            decoded = base64.b64decode(basic[6:]).decode()
            return decoded == f"{CLIENT_ID}:{CLIENT_SECRET}"
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET

    def token(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        if not self._client_ok(form, headers):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            pending = self.codes.get(form.get("code", ""))
            if pending is None or pending.used:
                return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
            pending.used = True
            if pending.redirect_uri != form.get("redirect_uri"):
                return 400, {"error": "redirect_uri_mismatch"}
            verifier = form.get("code_verifier", "")
            expected = b64url(hashlib.sha256(verifier.encode()).digest())
            if pending.method != "S256" or not verifier or expected != pending.challenge:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Missing code verifier.",
                }
            grant = Grant(
                refresh_token="1//" + secrets.token_urlsafe(24),
                scope=pending.scope,
                email=pending.email,
            )
            self.grants.append(grant)
            answer = self._mint_access(grant)
            if self.send_refresh_token:
                answer["refresh_token"] = grant.refresh_token
            return 200, answer
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token", "")
            grant = next((g for g in self.grants if g.refresh_token == refresh), None)
            if grant is None or grant.revoked:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            return 200, self._mint_access(grant)
        return 400, {"error": "unsupported_grant_type"}

    def revoke(self, form: dict[str, str]) -> tuple[int, Any]:
        token = form.get("token", "")
        for grant in self.grants:
            if not grant.revoked and (token == grant.refresh_token or token in grant.access_tokens):
                grant.revoked = True
                return 200, {}
        return 400, {"error": "invalid_token", "error_description": "Token expired or revoked"}

    def values_get(
        self, raw_path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any]:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        grant = self._grant_for_access(token)
        if grant is None:
            return 401, _google_error(401, "Request had invalid authentication credentials.")
        if SHEETS_SCOPE not in grant.scope.split():
            return 403, _google_error(403, "Request had insufficient authentication scopes.")
        if self.sheets_status is not None:
            return self.sheets_status, _google_error(self.sheets_status, "Scripted failure.")
        parts = raw_path.split("/")
        # /v4/spreadsheets/{id}/values/{range}
        if len(parts) != 6 or parts[1:3] != ["v4", "spreadsheets"] or parts[4] != "values":
            return 404, _google_error(404, "Not found.")
        spreadsheet_id = urllib.parse.unquote(parts[3])
        wanted = urllib.parse.unquote(parts[5])
        if not any(key[0] == spreadsheet_id for key in self.cells):
            return 404, _google_error(404, "Requested entity was not found.")
        match = _RANGE.fullmatch(wanted)
        if match is None:
            return 400, _google_error(400, f"Unable to parse range: {wanted}")
        tab, cell = match[1].replace("''", "'"), match[2]
        if not any(key[:2] == (spreadsheet_id, tab) for key in self.cells):
            return 400, _google_error(400, f"Unable to parse range: {wanted}")
        answer: dict[str, Any] = {"range": f"'{match[1]}'!{cell}", "majorDimension": "ROWS"}
        text = self.cells.get((spreadsheet_id, tab, cell))
        if text is not None:
            answer["values"] = [[text]]
        return 200, answer


def _google_error(status: int, message: str) -> dict[str, Any]:
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
    return {"error": {"code": status, "message": message, "status": names.get(status, "ERROR")}}


class _Handler(BaseHTTPRequestHandler):
    owner: GoogleStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _record(self, form: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str]]:
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.owner.lock:
            self.owner.requests.append(Recorded(self.command, split.path, query, form, headers))
        return split.path, query, headers

    def _send(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        path, query, headers = self._record({})
        with self.owner.lock:
            if path == "/o/oauth2/v2/auth":
                status, extra, body = self.owner.authorize(query)
                self._send(status, body, extra)
                return
            if path.startswith("/v4/spreadsheets/"):
                status, answer = self.owner.values_get(path, query, headers)
                self._send(status, answer)
                return
        self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        path, _, headers = self._record(form)
        with self.owner.lock:
            if path == "/token":
                status, answer = self.owner.token(form, headers)
            elif path == "/revoke":
                status, answer = self.owner.revoke(form)
            else:
                status, answer = 404, {"error": "not_found"}
        self._send(status, answer)


@contextlib.contextmanager
def running_standin(tmp_dir: Path) -> Iterator[GoogleStandIn]:
    standin = GoogleStandIn(tmp_dir)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


def follow_consent(standin: GoogleStandIn, consent_url: str) -> str:
    """Open the consent URL as the browser would; return where Google sends it back to."""
    assert consent_url.startswith(standin.base_url + "/o/oauth2/v2/auth?")
    response = httpx.get(consent_url, verify=standin.client_context(), follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def connect_through_web(client: Any, standin: GoogleStandIn, base_url: str) -> Any:
    """The whole round trip with a logged-in Django test client; returns the final page.

    Start (POST) redirects to the consent page, which redirects back to the callback.
    """
    started = client.post(reverse("web:connections-start"))
    assert started.status_code == 302, started
    back = follow_consent(standin, started["Location"])
    assert back.startswith(base_url + reverse("web:connections-callback") + "?"), back
    return client.get(back[len(base_url) :], follow=True)
