"""Who is calling the API: a bearer API token, resolved to its org and scope.

The principal carries the org, so every API handler scopes its queries to
``request.auth.org`` and can never reach another organization's data.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from ninja.security import HttpBearer

from pulseboard.core.actors import Actor, ActorKind
from pulseboard.core.client_address import client_ip
from pulseboard.core.errors import Forbidden
from pulseboard.orgs.models import ApiToken, Organization
from pulseboard.orgs.roles import TokenScope
from pulseboard.orgs.services import token_authenticate


@dataclass(frozen=True)
class ApiPrincipal:
    org: Organization
    token: ApiToken
    actor: Actor

    @property
    def is_admin(self) -> bool:
        return self.token.scope == TokenScope.ADMIN


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiPrincipal | None:
        found = token_authenticate(plaintext=token)
        if found is None:
            return None
        actor = Actor(
            kind=ActorKind.TOKEN,
            id=found.pk,
            label=f"token:{found.name}",
            ip=client_ip(request),
        )
        return ApiPrincipal(org=found.org, token=found, actor=actor)


def principal(request: HttpRequest) -> ApiPrincipal:
    auth = request.auth  # type: ignore[attr-defined]
    assert isinstance(auth, ApiPrincipal)
    return auth


def require_admin(request: HttpRequest) -> ApiPrincipal:
    """The caller, when its token has admin scope; 403 otherwise."""
    caller = principal(request)
    if not caller.is_admin:
        raise Forbidden("this action needs a token with admin scope")
    return caller


class AdminTokenAuth(ApiTokenAuth):
    """Bearer auth of admin-only operations: a read token gets 403 before its body is read."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiPrincipal | None:
        caller = super().authenticate(request, token)
        if caller is not None and not caller.is_admin:
            raise Forbidden("this action needs a token with admin scope")
        return caller
