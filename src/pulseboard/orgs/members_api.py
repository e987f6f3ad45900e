"""Members API (DESIGN §13): ``GET /members`` (admin tokens), to pick a KPI's owner.

Lists the members of the token's org only: ``user_id`` (what ``owner_id`` takes),
``email`` and ``role``. Admin tokens only, since e-mail addresses are people's data.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from pulseboard.core.api_errors import ERRORS
from pulseboard.orgs.api_auth import AdminTokenAuth, require_admin
from pulseboard.orgs.models import Membership
from pulseboard.orgs.selectors import membership_list

ADMIN = AdminTokenAuth()
router = Router(tags=["Members"])


class MemberOut(Schema):
    user_id: int = Field(description="what a KPI's or objective's owner_id takes")
    email: str
    role: Literal["admin", "member"]

    @classmethod
    def from_membership(cls, membership: Membership) -> MemberOut:
        return cls(
            user_id=membership.user_id,
            email=membership.user.email,
            role=membership.role,  # type: ignore[arg-type]
        )


@router.get(
    "/members",
    auth=ADMIN,
    response={200: list[MemberOut], **ERRORS},
    operation_id="member_list",
    url_name="member-list",
    summary="The organization's members by e-mail address (admin)",
)
def member_list_endpoint(request: HttpRequest) -> list[MemberOut]:
    caller = require_admin(request)
    return [MemberOut.from_membership(m) for m in membership_list(org=caller.org)]
