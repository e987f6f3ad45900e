"""Django app config for KPI history; provides indicators with its past-values reader."""

from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "pulseboard.history"
    label = "history"

    def ready(self) -> None:
        from pulseboard.history import selectors
        from pulseboard.indicators.past_values import register_reader

        register_reader(selectors)
