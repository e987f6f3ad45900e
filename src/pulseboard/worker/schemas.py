"""API shape of a pull's outcome, as "Pull now" returns it."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema

from pulseboard.worker.services import PullRecord


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
