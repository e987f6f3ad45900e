"""API shapes of the audit log: the filter/page query, one event, one page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from pulseboard.audit.actions import Action
from pulseboard.core.api_input import ID_PATTERN, ApiDatetime
from pulseboard.orgs.actions import OrgAction

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class AuditQuery(Schema):
    kpi: str | None = Field(
        default=None,
        max_length=32,
        pattern=ID_PATTERN,
        description="events about this KPI",
    )
    actor: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[^\x00]*$",
        description="actor id, or part of its label (an e-mail, 'token:NAME', 'connector:KIND')",
    )
    action: Action | OrgAction | None = Field(default=None, description="e.g. value.recorded")
    since: ApiDatetime | None = Field(default=None, description="events at or after")
    until: ApiDatetime | None = Field(default=None, description="events before")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="events per page")
    cursor: str | None = Field(
        default=None, max_length=200, description="next_cursor of the previous page"
    )


class AuditEventOut(Schema):
    id: int
    created_at: datetime
    actor_kind: Literal["user", "token", "connector", "system"]
    actor_id: str
    actor_label: str
    action: str
    target_type: str
    target_id: str
    target_label: str
    before: Any = Field(description="the changed fields before (JSON), or null")
    after: Any = Field(description="the changed fields after (JSON), or null")
    ip: str | None


class AuditPageOut(Schema):
    items: list[AuditEventOut] = Field(description="newest first")
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )
