"""Django app config for KPIs; tells orgs (below) to clear a leaving member's KPI ownerships
and, when a team is deleted, its KPIs' team (bumping ``updated_at``, ``orgs/team_hooks.py``)."""

from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "pulseboard.indicators"
    label = "indicators"

    def ready(self) -> None:
        from pulseboard.indicators.services import kpi_owner_clear, kpis_team_clear
        from pulseboard.orgs.member_hooks import register_member_removed
        from pulseboard.orgs.team_hooks import register_team_deleting

        register_member_removed(kpi_owner_clear)
        register_team_deleting(kpis_team_clear)
