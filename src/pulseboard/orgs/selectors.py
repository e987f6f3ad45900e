"""Reads for organizations and memberships; each takes the org or the user first."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from pulseboard.core.errors import NotFound
from pulseboard.core.tokens import hash_token
from pulseboard.orgs.models import ApiToken, Invite, Membership, Organization, User
from pulseboard.orgs.roles import Role


def user_get_by_email(*, email: str) -> User | None:
    """The account with this address (addresses are stored lower-case), or None."""
    return User.objects.filter(email=email.strip().lower()).first()


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("org").order_by("org__name")


def membership_get(*, org: Organization, user: User) -> Membership | None:
    return Membership.objects.filter(org=org, user=user).select_related("org").first()


def membership_list(*, org: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(org=org).select_related("user").order_by("user__email")


def org_get_by_slug(*, slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise NotFound(f"no organization with slug '{slug}'")
    return org


def token_list(*, org: Organization) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(org=org).order_by("-created_at")


def token_get(*, org: Organization, token_id: str) -> ApiToken:
    token = ApiToken.objects.filter(org=org, pk=token_id).first()
    if token is None:
        raise NotFound("token not found")
    return token


def membership_get_by_id(*, org: Organization, membership_id: int) -> Membership:
    membership = (
        Membership.objects.filter(org=org, pk=membership_id).select_related("user", "org").first()
    )
    if membership is None:
        raise NotFound("member not found")
    return membership


def admin_count(*, org: Organization) -> int:
    return Membership.objects.filter(org=org, role=Role.ADMIN).count()


def invite_list_pending(*, org: Organization, now: datetime) -> QuerySet[Invite]:
    """Invites that can still be accepted, newest first."""
    return (
        Invite.objects.filter(org=org, used_at__isnull=True, expires_at__gt=now)
        .select_related("created_by")
        .order_by("-created_at")
    )


def invite_get(*, org: Organization, invite_id: str) -> Invite:
    invite = Invite.objects.filter(org=org, pk=invite_id).first()
    if invite is None:
        raise NotFound("invite not found")
    return invite


def invite_get_by_token(*, token: str) -> Invite:
    """The invite a link names, used or not (the page says which); NotFound for no invite."""
    if not token or len(token) > 200:
        raise NotFound("This invite link is not valid.")
    invite = Invite.objects.filter(token_digest=hash_token(token)).select_related("org").first()
    if invite is None:
        raise NotFound("This invite link is not valid.")
    return invite
