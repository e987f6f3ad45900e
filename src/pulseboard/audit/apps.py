"""Django app config for the audit log."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "pulseboard.audit"
    label = "audit"
