"""The web form of a note on a KPI (DESIGN §13): its text and, optionally, when it happened.

The rules of a note live in ``history/annotations.py``; this form only reads the fields.
``at`` is typed in the browser's ``datetime-local`` control, without a zone: Django reads it
in the current time zone, which the org middleware sets to the organization's, so a time
that does not exist there (skipped by a clock change) is refused here with a message.
"""

from __future__ import annotations

from django import forms

from pulseboard.history.annotations import MAX_TEXT

DATETIME_LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class AnnotationForm(forms.Form):
    # Not required and not stripped here: the service says what is wrong, the same words
    # as the API's.
    text = forms.CharField(
        required=False,
        strip=False,
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MAX_TEXT}),
    )
    at = forms.DateTimeField(
        required=False,
        label="When (empty: now)",
        input_formats=DATETIME_LOCAL,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
