"""The clock: the one place the application asks for the current time (tests move it)."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
