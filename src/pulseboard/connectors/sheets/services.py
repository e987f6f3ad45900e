"""Writes of Google connections: connect, refresh, disconnect; the tokens, encrypted at rest.

Every write is audited with the Google account, the scope and the expiry, never a
token; token values are never logged or rendered either. ``connection_access_prepare``
is the synchronous part of a Sheets pull: it runs with the rest of the pull's database
work, before the pull awaits anything, and hands the pull a live access token (refreshed
and stored first when it is about to expire), or a pull error that says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.db import transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record_of
from pulseboard.connectors.base import ConnectionAccess, PullError
from pulseboard.connectors.models import GoogleConnection
from pulseboard.connectors.sheets.connector import OWNER_LEFT, REVOKED
from pulseboard.connectors.sheets.oauth import (
    SCOPES,
    TokenEndpointError,
    TokenRevoked,
    TokenSet,
    authorization_finish,
    grant_revoke,
    tokens_refresh,
)
from pulseboard.connectors.sheets.selectors import (
    connection_get_for_pull,
    connection_get_for_user,
    connection_owner_is_member,
)
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.crypto import DecryptionFailed, cipher
from pulseboard.core.errors import NotFound
from pulseboard.orgs.models import Organization, User

# Refresh a little before Google's expiry so a pull never races the deadline.
EXPIRY_LEEWAY: Final = timedelta(seconds=60)


@dataclass(frozen=True)
class DisconnectOutcome:
    google_email: str
    revoked: bool
    sources_affected: int


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


def _token_facts(connection: GoogleConnection) -> dict[str, Any]:
    """What the audit log may say about a connection's tokens: never the tokens."""
    return {
        "google_email": connection.google_email,
        "scope": connection.scope,
        "expires_at": connection.expires_at.isoformat() if connection.expires_at else None,
    }


def _audit(
    connection: GoogleConnection, actor: Actor, action: Action, **change: dict[str, Any] | None
) -> None:
    """The event of a write to ``connection``; ``change`` is its ``before`` and/or ``after``."""
    audit_record_of(
        connection, "google_connection", connection.google_email, actor, action, **change
    )


# --- services -----------------------------------------------------------------------------


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
    tokens = authorization_finish(
        code=code, code_verifier=code_verifier, redirect_uri=redirect_uri, now=clock.now()
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


def connection_refresh(
    *, connection: GoogleConnection, actor: Actor, now: datetime
) -> GoogleConnection:
    """Trade the refresh token for a new access token and store it encrypted; audited.

    Raises ``TokenRevoked`` when Google refuses the refresh token or the connection was
    disconnected meanwhile, ``TokenEndpointError`` for every other failure. The call to
    Google happens outside any transaction.
    """
    tokens = tokens_refresh(refresh_token=_refresh_token_get(connection), now=now)
    stored = _connection_store_refreshed(
        connection_id=connection.pk, org_id=connection.org_id, tokens=tokens, actor=actor
    )
    if stored is None:
        raise TokenRevoked("the connection was disconnected")
    return stored


def connection_access_prepare(
    *, org_id: int, connection_id: str, actor: Actor, now: datetime, fresh: bool = False
) -> ConnectionAccess | None:
    """The live access token a pull reads with; None when the connection is gone.

    Refreshes (and stores) the token when it expires within ``EXPIRY_LEEWAY``, or always
    with ``fresh`` (Google refused a token before its announced expiry). Every failure
    is a ``PullError`` an admin can act on: the owner left the org, the grant was
    revoked, a token cannot be decrypted, Google's token endpoint failed.
    """
    connection = connection_get_for_pull(org_id=org_id, connection_id=connection_id)
    if connection is None:
        return None
    if not connection_owner_is_member(connection):
        raise PullError(OWNER_LEFT)
    refreshed = fresh or not access_token_is_fresh(connection, now=now)
    try:
        if refreshed:
            connection = connection_refresh(connection=connection, actor=actor, now=now)
        token = access_token_get(connection)
    except TokenRevoked:
        raise PullError(REVOKED) from None
    except TokenEndpointError as exc:
        raise PullError(str(exc)) from None
    return ConnectionAccess(
        account=connection.google_email, access_token=token, refreshed=refreshed
    )


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
    revoked = bool(token) and grant_revoke(token=token)
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
