"""API shapes of API tokens: create, read (prefix only), and the one-time plaintext."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from pulseboard.orgs.models import ApiToken


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["deploy script"])
    scope: Literal["admin", "read"] = Field(
        description="admin: everything an org admin may do; read: read published KPIs only"
    )


class TokenOut(Schema):
    id: str
    name: str
    prefix: str = Field(description="the first characters, to recognise a token; never the token")
    scope: Literal["admin", "read"]
    created_at: datetime
    created_by: str | None = Field(description="e-mail of the member who created it, if any")
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None
    active: bool

    @classmethod
    def from_token(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.pk,
            name=token.name,
            prefix=token.prefix,
            scope=token.scope,  # type: ignore[arg-type]
            created_at=token.created_at,
            created_by=token.created_by.email if token.created_by else None,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            active=token.is_active,
        )


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the secret: shown this once, store it now")
