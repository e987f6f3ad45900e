"""Django app config for sharing: share links, their boards, badges and tile images."""

from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "pulseboard.sharing"
    label = "sharing"
