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


class _Forward:
    """Calls the registered recorder; typed as ``AuditRecorder`` for the call sites."""

    recorder: AuditRecorder | None = None

    def __call__(self, **event: Any) -> object:
        if self.recorder is None:
            raise RuntimeError("no audit recorder: the pulseboard.audit app is not installed")
        return self.recorder(**event)


_forward = _Forward()
# Record one event through the audit app's recorder, inside the caller's transaction.
audit_record: AuditRecorder = _forward


def register_recorder(recorder: AuditRecorder) -> None:
    _forward.recorder = recorder
