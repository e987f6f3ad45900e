"""The audit event model. Append-only: the application can insert, never change or delete."""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from django.db import models

from pulseboard.core.actors import ActorKind


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to edit or delete an audit event."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    # PROTECT: deleting an org must not silently erase its audit trail.
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    actor_kind = models.CharField(max_length=10, choices=[(k.value, k.value) for k in ActorKind])
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=40)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["org", "-created_at"], name="audit_org_time"),
            models.Index(fields=["org", "target_type", "target_id"], name="audit_org_target"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events are append-only")
