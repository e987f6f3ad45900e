"""The OAuth protocol pieces that need no server: reading token answers, the ID token's
e-mail, the consent URL's parameters. The flow itself runs against the stand-in in
tests/web/test_connections.py and tests/connectors/sheets/.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from tests.connectors.google_standin import CLIENT_ID, unsigned_id_token

from pulseboard.connectors.sheets.oauth import (
    SHEETS_SCOPE,
    ConnectionFailed,
    TokenEndpointError,
    TokenRevoked,
    authorization_start,
    email_from_id_token,
    token_set_parse,
)
from pulseboard.core.safe_http import FetchResult

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def answer(status: int, document: object) -> FetchResult:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return FetchResult(status=status, body=body, content_type="application/json", url="u")


def test_a_token_answer_gives_the_tokens_the_expiry_and_the_account() -> None:
    tokens = token_set_parse(
        answer(
            200,
            {
                "access_token": "ya29.a",
                "refresh_token": "1//r",
                "expires_in": 3599,
                "scope": f"openid {SHEETS_SCOPE}",
                "token_type": "Bearer",
                "id_token": unsigned_id_token({"aud": CLIENT_ID, "email": "a@example.com"}),
            },
        ),
        now=NOW,
        client_id=CLIENT_ID,
    )
    assert tokens.access_token == "ya29.a" and tokens.refresh_token == "1//r"
    assert tokens.expires_at == NOW + timedelta(seconds=3599)
    assert tokens.scope == f"openid {SHEETS_SCOPE}" and tokens.email == "a@example.com"


def test_a_refresh_answer_has_no_refresh_token_and_keeps_none() -> None:
    tokens = token_set_parse(
        answer(200, {"access_token": "ya29.b", "expires_in": 10, "token_type": "bearer"}),
        now=NOW,
        client_id=CLIENT_ID,
    )
    assert tokens.refresh_token is None and tokens.email == "" and tokens.scope == ""


@pytest.mark.parametrize(
    ("status", "document", "error", "message"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            TokenRevoked,
            "invalid_grant: Token has been expired or revoked.",
        ),
        (401, {"error": "invalid_client"}, TokenEndpointError, "PULSEBOARD_GOOGLE_CLIENT_ID"),
        (400, {"error": "unauthorized_client"}, TokenEndpointError, "OAuth client"),
        (400, {"error": "invalid_request"}, TokenEndpointError, "refused the token request"),
        (502, b"<html>bad gateway</html>", TokenEndpointError, "HTTP 502 without a JSON object"),
        (200, [1, 2], TokenEndpointError, "without a JSON object"),
        (500, {}, TokenEndpointError, "HTTP 500"),
        (200, {"token_type": "Bearer"}, TokenEndpointError, "no access token"),
        (200, {"access_token": "x", "token_type": "mac"}, TokenEndpointError, "not a bearer"),
    ],
)
def test_a_refusal_or_a_bad_answer_says_what_google_said(
    status: int, document: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        token_set_parse(answer(status, document), now=NOW, client_id=CLIENT_ID)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=200))
def test_any_answer_gives_tokens_or_one_of_the_two_readable_errors(
    status: int, body: bytes
) -> None:
    try:
        token_set_parse(answer(status, body), now=NOW, client_id=CLIENT_ID)
    except (TokenRevoked, TokenEndpointError) as exc:
        assert str(exc)


@pytest.mark.parametrize(
    ("id_token", "email"),
    [
        (unsigned_id_token({"aud": CLIENT_ID, "email": "a@example.com"}), "a@example.com"),
        (unsigned_id_token({"aud": [CLIENT_ID, "x"], "email": "a@example.com"}), "a@example.com"),
        (unsigned_id_token({"aud": "someone-else", "email": "a@example.com"}), ""),
        (unsigned_id_token({"aud": CLIENT_ID}), ""),
        (unsigned_id_token({"aud": CLIENT_ID, "email": 5}), ""),
        ("a.b", ""),
        ("a.!!!.c", ""),
        ("a.bm90IGpzb24.c", ""),
        (None, ""),
    ],
)
def test_the_account_comes_from_an_id_token_meant_for_this_client_only(
    id_token: Any, email: str
) -> None:
    assert email_from_id_token(id_token, CLIENT_ID) == email


def test_the_consent_url_asks_for_offline_read_only_access_with_state_and_pkce(
    settings: Any,
) -> None:
    settings.PULSEBOARD = {
        **settings.PULSEBOARD,
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": "s",
        "GOOGLE_AUTH_URL": "https://accounts.google.com/o/oauth2/v2/auth",
    }
    first = authorization_start(redirect_uri="https://kpi.example.com/profile/connections/callback")
    second = authorization_start(
        redirect_uri="https://kpi.example.com/profile/connections/callback"
    )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(first.url).query))
    assert first.url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert query["scope"].split() == ["openid", "email", SHEETS_SCOPE]
    assert (query["access_type"], query["prompt"]) == ("offline", "consent")
    assert query["code_challenge_method"] == "S256" and query["state"] == first.state
    assert "client_secret" not in query and first.code_verifier not in first.url
    assert 43 <= len(first.code_verifier) <= 128
    assert first.state != second.state and first.code_verifier != second.code_verifier


def test_connecting_needs_the_client_configured(settings: Any) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "GOOGLE_CLIENT_SECRET": ""}
    with pytest.raises(ConnectionFailed, match="PULSEBOARD_GOOGLE_CLIENT_SECRET"):
        authorization_start(redirect_uri="https://kpi.example.com/cb")
