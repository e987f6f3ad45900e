"""The OAuth 2 protocol with Google: the consent URL, the code exchange, refresh, revocation.

Authorization code flow with state and PKCE S256, offline access. Authlib builds the
request pieces; ``core.safe_http`` (the only outbound client) sends them; the answers
are parsed here into a ``TokenSet`` or one of two readable errors. No database: what is
stored, and who may use it, is ``services`` and ``selectors``. The synchronous entry
points (``authorization_finish``, ``tokens_refresh``, ``grant_revoke``) open their own
SSRF-safe session with the settings' fetch policy, for callers that run no event loop
(a request thread, the worker's database threads).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from asgiref.sync import async_to_sync
from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request
from django.conf import settings

from pulseboard.connectors.outbound import fetch_policy
from pulseboard.core.errors import DomainError
from pulseboard.core.safe_http import FetchError, FetchResult, SafeSession, UnsafeURLError

SHEETS_SCOPE: Final = "https://www.googleapis.com/auth/spreadsheets.readonly"
# "openid email" only adds the account's address to the token answer, so a user with
# two Google accounts can tell their connections apart; both are non-sensitive scopes.
SCOPES: Final = ("openid", "email", SHEETS_SCOPE)
TOKEN_ENDPOINT_AUTH: Final = "client_secret_post"
MAX_SHOWN_DESCRIPTION: Final = 160


class ConnectionFailed(DomainError):
    """Connecting a Google account did not work; the message says why and what to do."""

    status = 400


class TokenRevoked(Exception):
    """Google no longer accepts the connection's refresh token (revoked or expired)."""


class TokenEndpointError(Exception):
    """Any other failure talking to Google's token endpoint; the message is readable."""


@dataclass(frozen=True)
class GoogleSettings:
    """The OAuth client and the Google base URLs (settings, so tests use a stand-in)."""

    client_id: str
    client_secret: str
    auth_url: str
    token_url: str
    revoke_url: str
    sheets_url: str

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what the callback must be checked against."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint answer, parsed; ``refresh_token`` is absent on refresh answers."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str
    email: str


def google_settings() -> GoogleSettings:
    config: Mapping[str, Any] = settings.PULSEBOARD
    return GoogleSettings(
        client_id=str(config.get("GOOGLE_CLIENT_ID", "")),
        client_secret=str(config.get("GOOGLE_CLIENT_SECRET", "")),
        auth_url=str(config["GOOGLE_AUTH_URL"]),
        token_url=str(config["GOOGLE_TOKEN_URL"]),
        revoke_url=str(config["GOOGLE_REVOKE_URL"]),
        sheets_url=str(config["GOOGLE_SHEETS_URL"]).rstrip("/"),
    )


def not_configured() -> ConnectionFailed:
    return ConnectionFailed(
        "Google is not configured on this server: an operator must set "
        "PULSEBOARD_GOOGLE_CLIENT_ID and PULSEBOARD_GOOGLE_CLIENT_SECRET"
    )


def authorization_start(*, redirect_uri: str) -> AuthorizationRequest:
    """A consent URL with a fresh state and PKCE S256 challenge (keep both for the callback)."""
    config = google_settings()
    if not config.configured:
        raise not_configured()
    client = OAuth2Client(
        None,
        client_id=config.client_id,
        scope=" ".join(SCOPES),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    state = generate_token(32)
    verifier = generate_token(64)
    # offline + consent: Google sends a refresh token only on a consent screen.
    url, _ = client.create_authorization_url(
        config.auth_url,
        state=state,
        code_verifier=verifier,
        access_type="offline",
        prompt="consent",
    )
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


def _form(body: str) -> dict[str, str]:
    return {str(key): str(value) for key, value in url_decode(body)}


def _client_form(config: GoogleSettings, body: str) -> dict[str, str]:
    auth = ClientAuth(config.client_id, config.client_secret, TOKEN_ENDPOINT_AUTH)
    _, _, signed = auth.prepare("POST", config.token_url, {}, body)
    return _form(signed)


def email_from_id_token(id_token: object, client_id: str) -> str:
    """The e-mail claim of an ID token received straight from the token endpoint.

    OpenID Connect Core 3.1.3.7 lets a client that got the token over TLS from the token
    endpoint skip the signature; the audience must still be this client.
    """
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return ""
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, UnicodeError):
        return ""
    if not isinstance(claims, dict):
        return ""
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    email = claims.get("email")
    if client_id not in audiences or not isinstance(email, str) or len(email) > 254:
        return ""
    return email


def token_set_parse(result: FetchResult, *, now: datetime, client_id: str) -> TokenSet:
    """Read a token endpoint answer; refusals become ``TokenRevoked``/``TokenEndpointError``."""
    try:
        document = json.loads(result.body)
    except (ValueError, UnicodeError):
        document = None
    if not isinstance(document, dict):
        raise TokenEndpointError(
            f"Google's token endpoint answered HTTP {result.status} without a JSON object"
        )
    error = document.get("error")
    if error is not None or not 200 <= result.status < 300:
        code = error if isinstance(error, str) else f"HTTP {result.status}"
        description = document.get("error_description")
        detail = f": {description[:MAX_SHOWN_DESCRIPTION]}" if isinstance(description, str) else ""
        if code == "invalid_grant":
            raise TokenRevoked(f"Google refused the grant ({code}{detail})")
        if code in ("invalid_client", "unauthorized_client"):
            raise TokenEndpointError(
                f"Google refused Pulseboard's OAuth client ({code}{detail}); check "
                "PULSEBOARD_GOOGLE_CLIENT_ID and PULSEBOARD_GOOGLE_CLIENT_SECRET"
            )
        raise TokenEndpointError(f"Google refused the token request ({code}{detail})")
    access_token = document.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenEndpointError("Google's token answer has no access token")
    token_type = document.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenEndpointError("Google's token answer is not a bearer token")
    expires_in = document.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        expires_at = now + timedelta(seconds=max(0, min(int(expires_in), 10**7)))
    refresh_token = document.get("refresh_token")
    scope = document.get("scope")
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) else "",
        email=email_from_id_token(document.get("id_token"), client_id),
    )


async def _token_request(
    session: SafeSession, config: GoogleSettings, body: str, *, now: datetime
) -> TokenSet:
    try:
        result = await session.post_form(
            config.token_url,
            data=_client_form(config, body),
            headers={"Accept": "application/json"},
        )
    except UnsafeURLError as exc:
        raise TokenEndpointError(f"Google's token endpoint is not allowed: {exc.reason}") from None
    except FetchError as exc:
        raise TokenEndpointError(f"could not reach Google's token endpoint: {exc}") from None
    return token_set_parse(result, now=now, client_id=config.client_id)


async def code_exchange(
    session: SafeSession,
    config: GoogleSettings,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    now: datetime,
) -> TokenSet:
    body = prepare_token_request(
        "authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
    )
    return await _token_request(session, config, body, now=now)


async def token_refresh(
    session: SafeSession, config: GoogleSettings, *, refresh_token: str, now: datetime
) -> TokenSet:
    body = prepare_token_request("refresh_token", refresh_token=refresh_token)
    return await _token_request(session, config, body, now=now)


async def token_revoke(session: SafeSession, config: GoogleSettings, *, token: str) -> bool:
    """Ask Google to revoke the grant behind ``token``; True when it is gone there.

    Google answers 400 ``invalid_token`` for a token it already forgot (revoked by the
    user, or expired): the grant is gone either way.
    """
    body, headers = prepare_revoke_token_request(token)
    try:
        result = await session.post_form(config.revoke_url, data=_form(body), headers=headers)
    except (FetchError, UnsafeURLError):
        return False
    if 200 <= result.status < 300:
        return True
    try:
        document = json.loads(result.body)
    except (ValueError, UnicodeError):
        return False
    return isinstance(document, dict) and document.get("error") == "invalid_token"


# --- synchronous entry points (each opens its own session) -------------------------------


async def _exchange_and_check(
    config: GoogleSettings, *, code: str, code_verifier: str, redirect_uri: str, now: datetime
) -> TokenSet:
    async with SafeSession(fetch_policy()) as session:
        try:
            tokens = await code_exchange(
                session,
                config,
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                now=now,
            )
        except TokenRevoked as exc:
            raise ConnectionFailed(
                f"Google did not accept the sign-in ({exc}); connect again"
            ) from None
        except TokenEndpointError as exc:
            raise ConnectionFailed(str(exc)) from None
        problem = None
        # RFC 6749 5.1: an answer without "scope" granted exactly what was asked for.
        if tokens.scope and SHEETS_SCOPE not in tokens.scope.split():
            problem = (
                "Google did not grant access to spreadsheets: connect again and allow "
                "'See all your Google Sheets spreadsheets'"
            )
        elif tokens.refresh_token is None:
            problem = "Google sent no refresh token (offline access); connect again"
        if problem is not None:
            # The grant is useless to us: do not leave it behind in the user's account.
            await token_revoke(session, config, token=tokens.access_token)
            raise ConnectionFailed(problem)
    return tokens


def authorization_finish(
    *, code: str, code_verifier: str, redirect_uri: str, now: datetime
) -> TokenSet:
    """Trade the callback's code for tokens that can read spreadsheets offline.

    Raises ``ConnectionFailed`` saying why otherwise (a grant without the spreadsheet
    scope or without a refresh token is revoked at Google before refusing it).
    """
    config = google_settings()
    if not config.configured:
        raise not_configured()
    return async_to_sync(_exchange_and_check)(
        config, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri, now=now
    )


async def _refresh(config: GoogleSettings, refresh_token: str, now: datetime) -> TokenSet:
    async with SafeSession(fetch_policy()) as session:
        return await token_refresh(session, config, refresh_token=refresh_token, now=now)


def tokens_refresh(*, refresh_token: str, now: datetime) -> TokenSet:
    """A new access token for ``refresh_token``: ``TokenRevoked`` or ``TokenEndpointError``."""
    config = google_settings()
    if not config.configured:
        raise TokenEndpointError(
            "Google is not configured on this server (PULSEBOARD_GOOGLE_CLIENT_ID and "
            "PULSEBOARD_GOOGLE_CLIENT_SECRET)"
        )
    return async_to_sync(_refresh)(config, refresh_token, now)


async def _revoke(config: GoogleSettings, token: str) -> bool:
    async with SafeSession(fetch_policy()) as session:
        return await token_revoke(session, config, token=token)


def grant_revoke(*, token: str) -> bool:
    """Revoke the grant behind ``token`` at Google; True when Google confirms it is gone."""
    return async_to_sync(_revoke)(google_settings(), token)
