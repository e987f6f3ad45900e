"""Django app config for the audit log; gives orgs (below it) its recorder at start-up."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "pulseboard.audit"
    label = "audit"

    def ready(self) -> None:
        from pulseboard.audit.services import audit_record
        from pulseboard.orgs.audit_hook import register_recorder

        register_recorder(audit_record)
