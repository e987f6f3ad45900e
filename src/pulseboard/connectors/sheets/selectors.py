"""Reads of Google connections: a user's own, in one org, and the one a source pulls through.

A connection belongs to one user in one org: every selector a person reaches takes
both, so nobody else, other admins included, can list, bind or disconnect it; another
user's connection is "not found", never "forbidden". The pull's read takes the org and
the id stored on the source (ownership was checked when it was bound).
"""

from __future__ import annotations

from django.db.models import Count, QuerySet

from pulseboard.connectors.models import GoogleConnection
from pulseboard.core.errors import NotFound
from pulseboard.orgs.models import Membership, Organization, User


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


def connection_choices(*, org_id: int, user_id: int | None) -> tuple[tuple[str, str], ...]:
    """(id, label) of the user's own connections in the org: offered by forms, checked by bind."""
    if user_id is None:
        return ()
    rows = GoogleConnection.objects.filter(org_id=org_id, user_id=user_id).order_by(
        "created_at", "pk"
    )
    return tuple((row.pk, row.google_email or f"Google account {row.pk[:6]}") for row in rows)


def connection_get_for_pull(*, org_id: int, connection_id: str) -> GoogleConnection | None:
    """The connection a source is bound to (the pull's read; ownership was checked at bind)."""
    return GoogleConnection.objects.filter(org_id=org_id, pk=connection_id).first()


def connection_owner_is_member(connection: GoogleConnection) -> bool:
    """False once the connection's owner left the org: then it no longer feeds its KPIs."""
    return Membership.objects.filter(org_id=connection.org_id, user_id=connection.user_id).exists()
