"""API shapes of the organization (read, patch) and of API tokens: create, read (prefix only),
and the one-time plaintext."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from pulseboard.orgs.localization import (
    LOCALE_HINT,
    MAX_LOCALE,
    MAX_NAME,
    MAX_TIMEZONE,
    TIMEZONE_HINT,
)
from pulseboard.orgs.models import ApiToken, Organization

# A field left out of a PATCH keeps its value (an explicit null is refused as not a string).
KEEP: Any = None


def _without_defaults(schema: dict[str, Any]) -> None:
    # A PATCH field left out keeps its value; a "default" in the schema would say otherwise.
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class OrgOut(Schema):
    name: str
    slug: str = Field(description="fixed at creation; names the org to the CLI")
    locale: str = Field(description="Babel locale id values are formatted in, e.g. en_US, de_DE")
    timezone: str = Field(description="IANA time zone the web pages show times in, e.g. UTC")

    @classmethod
    def from_org(cls, org: Organization) -> OrgOut:
        return cls(name=org.name, slug=org.slug, locale=org.locale, timezone=org.timezone)


class OrgPatch(Schema):
    """Change the organization (admin): send only the fields to change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    name: str = Field(default=KEEP, min_length=1, max_length=MAX_NAME, examples=["Acme Inc."])
    locale: str = Field(
        default=KEEP, max_length=MAX_LOCALE, description=LOCALE_HINT, examples=["de_DE"]
    )
    timezone: str = Field(
        default=KEEP, max_length=MAX_TIMEZONE, description=TIMEZONE_HINT, examples=["Europe/Berlin"]
    )


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
