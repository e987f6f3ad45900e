"""Django app config for organizations."""

from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "pulseboard.orgs"
    label = "orgs"
