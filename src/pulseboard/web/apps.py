"""Django app config for the web app."""

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "pulseboard.web"
    label = "web"
