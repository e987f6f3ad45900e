"""How orgs writes the audit log although the log sits above it (DESIGN §16).

The audit app registers its recorder here at start-up (``audit/apps.py``). Every org
write calls ``audit_record`` inside its own transaction, exactly as packages above the
log call ``audit.services.audit_record``, so the event and the change land together or
not at all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from pulseboard.core.actors import Actor


class AuditRecorder(Protocol):
    def __call__(
        self,
        *,
        org_id: int,
        actor: Actor,
        action: StrEnum,
        target_type: str,
        target_id: str,
        target_label: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> object: ...


_recorder: AuditRecorder | None = None


def register_recorder(recorder: AuditRecorder) -> None:
    global _recorder
    _recorder = recorder


def audit_record(
    *,
    org_id: int,
    actor: Actor,
    action: StrEnum,
    target_type: str,
    target_id: str,
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record one event through the audit app's recorder (inside the caller's transaction)."""
    if _recorder is None:
        raise RuntimeError("no audit recorder: the pulseboard.audit app is not installed")
    _recorder(
        org_id=org_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=before,
        after=after,
    )
