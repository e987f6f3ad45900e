"""Django app config for goals: cycles, objectives, key results and check-ins."""

from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "pulseboard.goals"
    label = "goals"
