"""Reads for organizations and memberships; each takes the org or the user first."""

from __future__ import annotations

from django.db.models import QuerySet

from pulseboard.core.errors import NotFound
from pulseboard.orgs.models import ApiToken, Membership, Organization, User


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
