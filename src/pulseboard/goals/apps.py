"""Django app config for goals: cycles, objectives, key results and check-ins.

At start-up it tells orgs (below) to clear a leaving member's objective and key result
ownerships (``orgs/member_hooks.py``) and, when a team is deleted, to clear its
objectives' team with a bumped ``updated_at`` (``orgs/team_hooks.py``).
"""

from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "pulseboard.goals"
    label = "goals"

    def ready(self) -> None:
        from pulseboard.goals.services import objectives_team_clear, owners_clear
        from pulseboard.orgs.member_hooks import register_member_removed
        from pulseboard.orgs.team_hooks import register_team_deleting

        register_member_removed(owners_clear)
        register_team_deleting(objectives_team_clear)
