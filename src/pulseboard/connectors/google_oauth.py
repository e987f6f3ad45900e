"""Google connections for the Sheets connector: the OAuth flow, the tokens and who may use them.

Owns the OAuth 2 authorization code flow (state + PKCE S256, offline access) with the
request pieces built by Authlib and sent through ``core.safe_http`` (the only outbound
client), the token exchange, refresh and revocation, the encrypted storage of tokens on
``GoogleConnection``, and the services and selectors for connections. A connection
belongs to one user in one org: every selector takes both, so nobody else, other admins
included, can list, bind or disconnect it. Token values are never logged, audited or
rendered; audit events carry the Google account, the scope and the expiry only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, QuerySet

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.connectors.models import GoogleConnection
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import DecryptionFailed, cipher
from pulseboard.core.errors import DomainError, NotFound
from pulseboard.core.safe_http import FetchError, FetchResult, SafeSession, UnsafeURLError
from pulseboard.orgs.models import Membership, Organization, User

T = TypeVar("T")

SHEETS_SCOPE: Final = "https://www.googleapis.com/auth/spreadsheets.readonly"
# "openid email" only adds the account's address to the token answer, so a user with
# two Google accounts can tell their connections apart; both are non-sensitive scopes.
SCOPES: Final = ("openid", "email", SHEETS_SCOPE)
# Refresh a little before Google's expiry so a pull never races the deadline.
EXPIRY_LEEWAY: Final = timedelta(seconds=60)
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


@dataclass(frozen=True)
class DisconnectOutcome:
    google_email: str
    revoked: bool
    sources_affected: int


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


def _not_configured() -> ConnectionFailed:
    return ConnectionFailed(
        "Google is not configured on this server: an operator must set "
        "PULSEBOARD_GOOGLE_CLIENT_ID and PULSEBOARD_GOOGLE_CLIENT_SECRET"
    )


# --- the protocol (Authlib builds the requests, safe_http sends them) -----------------


def authorization_start(*, redirect_uri: str) -> AuthorizationRequest:
    """A consent URL with a fresh state and PKCE S256 challenge (keep both for the callback)."""
    config = google_settings()
    if not config.configured:
        raise _not_configured()
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


# --- tokens at rest ---------------------------------------------------------------------


def access_token_is_fresh(connection: GoogleConnection, *, now: datetime) -> bool:
    return connection.expires_at is not None and connection.expires_at - EXPIRY_LEEWAY > now


def _decrypt(stored: str) -> str:
    try:
        return cipher().decrypt(stored)
    except DecryptionFailed:
        raise TokenEndpointError(
            "the stored Google token cannot be decrypted (was an encryption key removed?)"
        ) from None


def access_token_get(connection: GoogleConnection) -> str:
    return _decrypt(connection.access_token_encrypted)


def _refresh_token_get(connection: GoogleConnection) -> str:
    if not connection.refresh_token_encrypted:
        raise TokenRevoked("the connection has no refresh token")
    return _decrypt(connection.refresh_token_encrypted)


async def in_database(function: Callable[[], T]) -> T:
    """Run ORM work from a pull (an event loop) on asgiref's thread for synchronous code.

    That thread outlives the pull, so its connection is closed afterwards (unless a
    caller's transaction is open on it): a pull never leaves a session behind, and a
    database restart costs one pull, not every later one.
    """

    def call() -> T:
        try:
            return function()
        finally:
            if not any(c.in_atomic_block for c in connections.all(initialized_only=True)):
                connections.close_all()

    return await sync_to_async(call)()


def _token_facts(connection: GoogleConnection) -> dict[str, Any]:
    """What the audit log may say about a connection's tokens: never the tokens."""
    return {
        "google_email": connection.google_email,
        "scope": connection.scope,
        "expires_at": connection.expires_at.isoformat() if connection.expires_at else None,
    }


def _audit(
    connection: GoogleConnection,
    actor: Actor,
    action: Action,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit_record(
        org_id=connection.org_id,
        actor=actor,
        action=action,
        target_type="google_connection",
        target_id=connection.pk,
        target_label=connection.google_email,
        before=before,
        after=after,
    )


# --- services -----------------------------------------------------------------------------


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


def connection_create(
    *,
    org: Organization,
    user: User,
    actor: Actor,
    code: str,
    code_verifier: str,
    redirect_uri: str,
) -> GoogleConnection:
    """Trade the callback's code for tokens and store them encrypted for (org, user).

    Connecting the same Google account again replaces its tokens instead of adding a
    second connection.
    """
    config = google_settings()
    if not config.configured:
        raise _not_configured()
    now = clock.now()
    tokens = async_to_sync(_exchange_and_check)(
        config, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri, now=now
    )
    box = cipher()
    with transaction.atomic():
        existing = (
            GoogleConnection.objects.select_for_update()
            .filter(org=org, user=user, google_email=tokens.email)
            .first()
            if tokens.email
            else None
        )
        connection = existing or GoogleConnection(org=org, user=user, google_email=tokens.email)
        connection.access_token_encrypted = box.encrypt(tokens.access_token)
        connection.refresh_token_encrypted = box.encrypt(tokens.refresh_token or "")
        connection.expires_at = tokens.expires_at
        connection.scope = (tokens.scope or " ".join(SCOPES))[:300]
        connection.save()
        _audit(
            connection,
            actor,
            Action.CONNECTION_CREATED,
            after={**_token_facts(connection), "replaced_existing": existing is not None},
        )
    return connection


def _connection_store_refreshed(
    *, connection_id: str, org_id: int, tokens: TokenSet, actor: Actor
) -> GoogleConnection | None:
    box = cipher()
    with transaction.atomic():
        connection = (
            GoogleConnection.objects.select_for_update()
            .filter(pk=connection_id, org_id=org_id)
            .first()
        )
        if connection is None:
            return None
        connection.access_token_encrypted = box.encrypt(tokens.access_token)
        if tokens.refresh_token is not None:
            connection.refresh_token_encrypted = box.encrypt(tokens.refresh_token)
        connection.expires_at = tokens.expires_at
        if tokens.scope:
            connection.scope = tokens.scope[:300]
        connection.save(
            update_fields=[
                "access_token_encrypted",
                "refresh_token_encrypted",
                "expires_at",
                "scope",
            ]
        )
        _audit(connection, actor, Action.CONNECTION_REFRESHED, after=_token_facts(connection))
    return connection


async def connection_refresh(
    *, connection: GoogleConnection, session: SafeSession, actor: Actor, now: datetime
) -> GoogleConnection:
    """Trade the refresh token for a new access token and store it; audited.

    Raises ``TokenRevoked`` when Google refuses the refresh token or the connection was
    disconnected meanwhile, ``TokenEndpointError`` for every other failure.
    """
    config = google_settings()
    if not config.configured:
        raise TokenEndpointError(
            "Google is not configured on this server (PULSEBOARD_GOOGLE_CLIENT_ID and "
            "PULSEBOARD_GOOGLE_CLIENT_SECRET)"
        )
    tokens = await token_refresh(
        session, config, refresh_token=_refresh_token_get(connection), now=now
    )
    stored = await in_database(
        lambda: _connection_store_refreshed(
            connection_id=connection.pk, org_id=connection.org_id, tokens=tokens, actor=actor
        )
    )
    if stored is None:
        raise TokenRevoked("the connection was disconnected")
    return stored


async def _revoke(config: GoogleSettings, token: str) -> bool:
    async with SafeSession(fetch_policy()) as session:
        return await token_revoke(session, config, token=token)


def connection_disconnect(
    *, org: Organization, user: User, connection_id: str, actor: Actor
) -> DisconnectOutcome:
    """Revoke the grant at Google, then delete the connection; only its owner may.

    The connection is deleted even when Google cannot be reached (the user asked for it
    to be gone here); the outcome says whether Google confirmed. KPIs bound to it keep
    their last value and their next pull fails with a message naming the fix.
    """
    connection = connection_get_for_user(org=org, user=user, connection_id=connection_id)
    token = ""
    try:
        # Revoking the refresh token ends the whole grant, access tokens included.
        token = _refresh_token_get(connection)
    except (TokenRevoked, TokenEndpointError):
        try:
            token = access_token_get(connection)
        except TokenEndpointError:
            token = ""
    config = google_settings()
    revoked = bool(token) and async_to_sync(_revoke)(config, token)
    with transaction.atomic():
        locked = (
            GoogleConnection.objects.select_for_update()
            .filter(pk=connection.pk, org=org, user=user)
            .first()
        )
        if locked is None:
            raise NotFound("connection not found")
        affected = locked.sources.count()
        _audit(
            locked,
            actor,
            Action.CONNECTION_REMOVED,
            before=_token_facts(locked),
            after={"revoked_at_google": revoked, "sources_affected": affected},
        )
        locked.delete()
    return DisconnectOutcome(
        google_email=connection.google_email, revoked=revoked, sources_affected=affected
    )


# --- selectors ----------------------------------------------------------------------------


def connection_list_for_user(*, org: Organization, user: User) -> QuerySet[GoogleConnection]:
    """The user's own connections in this org, each with ``source_count`` (KPIs bound)."""
    return (
        GoogleConnection.objects.filter(org=org, user=user)
        .annotate(source_count=Count("sources"))
        .order_by("created_at", "pk")
    )


def connection_get_for_user(
    *, org: Organization, user: User, connection_id: object
) -> GoogleConnection:
    """One of the user's own connections; anyone else's is "not found", never "forbidden"."""
    if not isinstance(connection_id, str) or not connection_id:
        raise NotFound("connection not found")
    connection = GoogleConnection.objects.filter(org=org, user=user, pk=connection_id).first()
    if connection is None:
        raise NotFound("connection not found")
    return connection


def connection_choices(*, org_id: int, user_id: int | None) -> list[tuple[str, str]]:
    """(id, label) of the user's own connections in the org, for the binding form."""
    if user_id is None:
        return []
    rows = GoogleConnection.objects.filter(org_id=org_id, user_id=user_id).order_by(
        "created_at", "pk"
    )
    return [(row.pk, row.google_email or f"Google account {row.pk[:6]}") for row in rows]


def connection_for_binding(
    *, org_id: int, user_id: int | None, connection_id: str
) -> GoogleConnection | None:
    """The connection a binding names, when it is the binding user's own in this org."""
    if user_id is None or not connection_id:
        return None
    return GoogleConnection.objects.filter(org_id=org_id, user_id=user_id, pk=connection_id).first()


def connection_get_for_pull(*, org_id: int, connection_id: str) -> GoogleConnection | None:
    """The connection a source is bound to (the pull's read; ownership was checked at bind)."""
    return GoogleConnection.objects.filter(org_id=org_id, pk=connection_id).first()


def connection_owner_is_member(connection: GoogleConnection) -> bool:
    """False once the connection's owner left the org: then it no longer feeds its KPIs."""
    return Membership.objects.filter(org_id=connection.org_id, user_id=connection.user_id).exists()
