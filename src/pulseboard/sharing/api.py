"""Share links API: `GET/POST /share-links`, `DELETE /share-links/{id}` (DESIGN §12).

Any token lists its organization's links (names, prefixes, states: never a
token or a URL); creating and revoking need an admin token. Another org's link
is a 404 like one that does not exist. Revoking keeps the row (``revoked_at``
set) so the list and the audit log still say what the link was; its board and
badges answer 404 from the next request on.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from pulseboard.core import clock
from pulseboard.core.api_errors import ERRORS
from pulseboard.orgs.api_auth import AdminTokenAuth, principal, require_admin
from pulseboard.sharing.schemas import ShareLinkCreatedOut, ShareLinkIn, ShareLinkOut
from pulseboard.sharing.selectors import share_link_get, share_link_list, share_url
from pulseboard.sharing.services import share_link_create, share_link_revoke

ADMIN = AdminTokenAuth()
router = Router(tags=["Share links"])


@router.get(
    "/share-links",
    response={200: list[ShareLinkOut], **ERRORS},
    operation_id="share_link_list",
    url_name="share-link-list",
    summary="Share links of the organization, newest first (no tokens)",
)
def share_link_list_endpoint(request: HttpRequest) -> list[ShareLinkOut]:
    caller, now = principal(request), clock.now()
    return [ShareLinkOut.from_link(link, now=now) for link in share_link_list(org=caller.org)]


@router.post(
    "/share-links",
    auth=ADMIN,
    response={201: ShareLinkCreatedOut, **ERRORS},
    operation_id="share_link_create",
    url_name="share-link-list",
    summary="Create a share link (admin); the answer holds its token and URL, shown once",
)
def share_link_create_endpoint(
    request: HttpRequest, payload: ShareLinkIn
) -> Status[ShareLinkCreatedOut]:
    caller = require_admin(request)
    link, token = share_link_create(
        org=caller.org,
        actor=caller.actor,
        name=payload.name,
        kpi_ids=payload.kpi_ids,
        team_id=payload.team_id,
        expires_at=payload.expires_at,
    )
    out = ShareLinkOut.from_link(share_link_get(org=caller.org, link_id=link.pk), now=clock.now())
    return Status(201, ShareLinkCreatedOut(**out.model_dump(), url=share_url(token), token=token))


@router.delete(
    "/share-links/{share_link_id}",
    auth=ADMIN,
    response={204: None, **ERRORS},
    operation_id="share_link_revoke",
    url_name="share-link-detail",
    summary="Revoke a share link (admin); its board and badges answer 404 from now on",
)
def share_link_revoke_endpoint(request: HttpRequest, share_link_id: str) -> Status[None]:
    caller = require_admin(request)
    share_link_revoke(
        link=share_link_get(org=caller.org, link_id=share_link_id), actor=caller.actor
    )
    return Status(204, None)
