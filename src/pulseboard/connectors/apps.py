"""Django app config for connectors."""

from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "pulseboard.connectors"
    label = "connectors"
