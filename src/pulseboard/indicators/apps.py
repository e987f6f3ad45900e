"""Django app config for KPIs."""

from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "pulseboard.indicators"
    label = "indicators"
