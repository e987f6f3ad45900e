"""Sources (one per KPI), their pull attempts, webhook deliveries and Google connections."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from pulseboard.core.ids import new_id
from pulseboard.core.models import OrgScopedModel


def source_kind_choices() -> list[tuple[str, str]]:
    # Imported here: the registry imports the connector modules, which may import models.
    from pulseboard.connectors.registry import kind_choices

    return kind_choices()


class Source(OrgScopedModel):
    """Where a KPI's value comes from. Secrets live encrypted in ``secret_encrypted``."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    kpi = models.OneToOneField("indicators.Kpi", on_delete=models.CASCADE, related_name="source")
    # Any registered kind (connectors/registry.py); a new kind needs no migration.
    kind = models.CharField(max_length=32, choices=source_kind_choices, default="manual")
    config = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True)
    secret_hint = models.CharField(max_length=8, blank=True)
    connection = models.ForeignKey(
        "connectors.GoogleConnection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sources",
    )

    interval_seconds = models.PositiveIntegerField(default=900)
    next_pull_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["kind", "next_pull_at"], name="source_due"),
        ]

    @property
    def is_pull(self) -> bool:
        from pulseboard.connectors.registry import is_pull_kind

        return is_pull_kind(self.kind)

    @property
    def failing(self) -> bool:
        return self.is_pull and self.consecutive_failures > 0


class PullAttempt(OrgScopedModel):
    """The outcome of one pull, kept so admins can read the last attempts."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField()
    value = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["source", "-started_at"], name="attempt_source_time"),
        ]


class WebhookDelivery(OrgScopedModel):
    """An accepted delivery; its ``webhook_id`` makes replays within 24 h idempotent."""

    kpi = models.ForeignKey("indicators.Kpi", on_delete=models.CASCADE, related_name="+")
    webhook_id = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    value = models.FloatField()
    observed_at = models.DateTimeField()
    # False when observed_at was older than the KPI's current value: history only.
    applied = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["kpi", "webhook_id"], name="delivery_unique_id"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["kpi", "-received_at"], name="delivery_kpi_time"),
            models.Index(fields=["received_at"], name="delivery_received"),
        ]


class GoogleConnection(OrgScopedModel):
    """One user's Google account in one org; nobody else may see or use it."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    user = models.ForeignKey("orgs.User", on_delete=models.CASCADE, related_name="+")
    google_email = models.CharField(max_length=254, blank=True)
    access_token_encrypted = models.TextField()
    refresh_token_encrypted = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
