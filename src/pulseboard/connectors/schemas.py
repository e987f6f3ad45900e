"""API shapes of a KPI's source: the binding a client sends and the state it reads back.

``kind`` is checked against the connector registry, not a fixed list, so a new
connector needs no schema change; each connector validates its own ``config``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field

from pulseboard.connectors.base import SourceStatus
from pulseboard.connectors.models import PullAttempt
from pulseboard.connectors.pull_services import PullRecord


class SourceIn(Schema):
    """Bind a KPI: ``{"kind": "webhook", "config": {}}``."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=20, examples=["manual", "webhook"])
    config: dict[str, Any] = Field(default_factory=dict)


class StatusDetail(Schema):
    label: str
    value: str


class SourceStatusOut(Schema):
    summary: str
    failing: bool
    details: list[StatusDetail]

    @classmethod
    def from_status(cls, status: SourceStatus) -> SourceStatusOut:
        return cls(
            summary=status.summary,
            failing=status.failing,
            details=[StatusDetail(label=label, value=value) for label, value in status.details],
        )


class SourceOut(Schema):
    """A KPI's source. Read tokens get its kind and health only (DESIGN §15): ``config``,
    ``secret_hint``, ``endpoint``, ``interval_seconds`` and ``last_error`` are null for
    them, and ``status`` carries its summary and ``failing`` without details."""

    kind: str
    label: str = Field(description="the kind's name as people read it")
    config: dict[str, Any] | None = Field(
        description="admin tokens: the non-secret settings; read tokens: null"
    )
    secret_hint: str | None = Field(
        description="admin tokens: last 4 characters of the stored secret"
    )
    endpoint: str | None = Field(description="admin tokens, webhook only: where senders POST")
    interval_seconds: int | None = Field(description="admin tokens, pull kinds only")
    last_pulled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None = Field(description="admin tokens: the last pull error")
    consecutive_failures: int
    status: SourceStatusOut


class SourceBoundOut(SourceOut):
    secret: str | None = Field(
        description="a newly minted webhook secret: shown in this response only, store it now"
    )


class PullAttemptOut(Schema):
    started_at: datetime
    ok: bool
    value: float | None = Field(description="the value read, when ok")
    error: str | None = Field(description="why the pull failed, when not ok")
    duration_ms: int

    @classmethod
    def from_attempt(cls, attempt: PullAttempt) -> PullAttemptOut:
        return cls(
            started_at=attempt.started_at,
            ok=attempt.ok,
            value=attempt.value if attempt.ok else None,
            error=attempt.error or None,
            duration_ms=attempt.duration_ms,
        )


class SourceAttemptsOut(Schema):
    kind: str
    attempts: list[PullAttemptOut] = Field(description="the last 20 pulls, newest first")


class PullOut(Schema):
    ok: bool
    value: float | None
    error: str | None
    changed: bool
    started_at: datetime
    duration_ms: int
    next_pull_at: datetime | None
    consecutive_failures: int

    @classmethod
    def from_record(cls, record: PullRecord) -> PullOut:
        ok = record.recorded and not record.error
        return cls(
            ok=ok,
            value=record.outcome.value if ok else None,
            error=record.error or None,
            changed=record.changed,
            started_at=record.outcome.started_at,
            duration_ms=record.outcome.duration_ms,
            next_pull_at=record.next_pull_at,
            consecutive_failures=record.consecutive_failures,
        )
