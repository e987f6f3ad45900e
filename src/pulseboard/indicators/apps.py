"""Django app config for KPIs; tells orgs (below) to clear a leaving member's KPI ownerships."""

from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "pulseboard.indicators"
    label = "indicators"

    def ready(self) -> None:
        from pulseboard.indicators.services import kpi_owner_clear
        from pulseboard.orgs.member_hooks import register_member_removed

        register_member_removed(kpi_owner_clear)
