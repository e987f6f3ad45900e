"""Template context: the current org and membership for every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def current_org(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    return {
        "current_org": getattr(request, "org", None),
        "current_membership": membership,
        "is_org_admin": bool(membership and membership.is_admin),
        "user_memberships": getattr(request, "memberships", []),
    }
