"""Django app config for KPI history."""

from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "pulseboard.history"
    label = "history"
