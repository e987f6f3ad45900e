"""REST endpoints of the organization (read: any token; change: admin) and of API tokens
(admin tokens): list, create (plaintext shown once), revoke.

``PATCH /org`` changes the caller's own organization only: the org comes from the
token, so no id in the path can name another one.

Revoking is a DELETE that keeps the row (``revoked_at`` set) so the audit log
and the list still say which token did what; a revoked token authenticates no
more from the next request on. A token may revoke itself.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from pulseboard.core.api_errors import ERRORS
from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import NotFound
from pulseboard.orgs.api_auth import AdminTokenAuth, principal, require_admin
from pulseboard.orgs.schemas import OrgOut, OrgPatch, TokenCreatedOut, TokenIn, TokenOut
from pulseboard.orgs.selectors import token_get, token_list
from pulseboard.orgs.services import org_update, token_create, token_revoke

ADMIN = AdminTokenAuth()
router = Router(tags=["API tokens"])


@router.get(
    "/org",
    response={200: OrgOut, **ERRORS},
    operation_id="org_get",
    url_name="org",
    tags=["Organization"],
    summary="The token's organization: name, slug, locale, time zone",
)
def org_get_endpoint(request: HttpRequest) -> OrgOut:
    return OrgOut.from_org(principal(request).org)


@router.patch(
    "/org",
    auth=ADMIN,
    response={200: OrgOut, **ERRORS},
    operation_id="org_patch",
    url_name="org",
    tags=["Organization"],
    summary="Change the organization's name, locale or time zone (admin)",
)
def org_patch_endpoint(request: HttpRequest, payload: OrgPatch) -> OrgOut:
    caller = require_admin(request)
    changes = payload.model_dump(exclude_unset=True)
    org = org_update(org=caller.org, actor=caller.actor, **changes)
    return OrgOut.from_org(org)


@router.get(
    "/tokens",
    auth=ADMIN,
    response={200: list[TokenOut], **ERRORS},
    operation_id="token_list",
    url_name="token-list",
    summary="API tokens of the organization, newest first (admin)",
)
def token_list_endpoint(request: HttpRequest) -> list[TokenOut]:
    caller = require_admin(request)
    tokens = token_list(org=caller.org).select_related("created_by")
    return [TokenOut.from_token(token) for token in tokens]


@router.post(
    "/tokens",
    auth=ADMIN,
    response={201: TokenCreatedOut, **ERRORS},
    operation_id="token_create",
    url_name="token-list",
    summary="Create an API token (admin); the response holds the token, shown once",
)
def token_create_endpoint(request: HttpRequest, payload: TokenIn) -> Status[TokenCreatedOut]:
    caller = require_admin(request)
    token, plaintext = token_create(
        org=caller.org, actor=caller.actor, name=payload.name, scope=payload.scope
    )
    return Status(201, TokenCreatedOut(**TokenOut.from_token(token).model_dump(), token=plaintext))


@router.delete(
    "/tokens/{token_id}",
    auth=ADMIN,
    response={204: None, **ERRORS},
    operation_id="token_revoke",
    url_name="token-detail",
    summary="Revoke an API token (admin)",
)
def token_revoke_endpoint(request: HttpRequest, token_id: str) -> Status[None]:
    caller = require_admin(request)
    if not is_object_id(token_id):
        raise NotFound("token not found")
    token_revoke(token=token_get(org=caller.org, token_id=token_id), actor=caller.actor)
    return Status(204, None)
