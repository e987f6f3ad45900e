"""Annotations (DESIGN §13): a member's note on a KPI at a moment, saying why the number moved.

Owns the rules of a note and its reads and writes:

- ``annotation_add``: any member may add one (the web checks membership, the API an
  admin-scope token: a token is no person, see ``docs/api.md``). ``text`` is stripped
  (line breaks normalised to ``\\n``) and must hold 1 to 500 characters with no control
  character other than a line break or a tab; ``at`` defaults to now, must carry a zone
  offset, and may lie at most one day ahead (a note is about what happened, a little
  slack covers "deploy at 9 tomorrow morning" written the evening before).
- ``annotation_delete``: its author or an admin; anyone else gets ``Forbidden``.
- Both write one audit event on the KPI (so it shows among the KPI's recent changes)
  in the same transaction as the row; a refused note writes nothing.
- ``annotation_list``: one KPI's notes, newest first; ``newest_in_window``: for many KPIs
  at once, in ONE query, the newest note inside each KPI's compare period (a tile's
  "why it moved").
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from django.db import transaction
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.api_input import EARLIEST_OBSERVATION, is_object_id
from pulseboard.core.errors import Forbidden, NotFound, ValidationFailed
from pulseboard.history.models import Annotation
from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import DEFAULT_COMPARE
from pulseboard.orgs.models import Organization

MAX_TEXT: Final = 500
# How far ahead a note may be dated: "deploy at 9 tomorrow", not a diary of the future.
MAX_AHEAD: Final = timedelta(days=1)
_ALLOWED_CONTROLS: Final = frozenset("\n\t")
# Newest first; created_at and id break ties between notes at the same instant.
_NEWEST_FIRST: Final = ("-at", "-created_at", "-id")


# --- rules ------------------------------------------------------------------------------------


def clean_text(text: object) -> str:
    """The note's text as stored, or ``ValidationFailed`` saying what is wrong with it."""
    if not isinstance(text, str):
        raise ValidationFailed("text must be a string", errors={"text": "must be a string"})
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned:
        message = f"text is empty: say what happened in 1 to {MAX_TEXT} characters"
        raise ValidationFailed(message, errors={"text": "must not be empty"})
    if len(cleaned) > MAX_TEXT:
        message = f"text is {len(cleaned)} characters long; a note holds at most {MAX_TEXT}"
        raise ValidationFailed(message, errors={"text": f"at most {MAX_TEXT} characters"})
    for position, char in enumerate(cleaned, start=1):
        if char in _ALLOWED_CONTROLS or unicodedata.category(char) not in ("Cc", "Cs"):
            continue
        message = (
            f"text must not contain control characters (line breaks and tabs are fine): "
            f"U+{ord(char):04X} at character {position}"
        )
        raise ValidationFailed(message, errors={"text": "control character"})
    return cleaned


def clean_at(at: datetime | None, *, now: datetime) -> datetime:
    """When the note is about: ``now`` when not given, else a checked aware date-time."""
    if at is None:
        return now
    if at.tzinfo is None or at.utcoffset() is None:
        message = "at must carry a zone offset, e.g. 2025-06-02T09:30:00Z"
        raise ValidationFailed(message, errors={"at": "no zone offset"})
    if at < EARLIEST_OBSERVATION:
        message = "at must be on or after 1970-01-01T00:00:00Z"
        raise ValidationFailed(message, errors={"at": "before 1970"})
    if at > now + MAX_AHEAD:
        latest = (now + MAX_AHEAD).isoformat(timespec="seconds")
        message = (
            "at is more than 1 day in the future; a note says why a number moved, "
            f"so date it at most 1 day ahead (until {latest})"
        )
        raise ValidationFailed(message, errors={"at": "more than 1 day in the future"})
    return at


def may_delete(annotation: Annotation, *, user_id: int | None, is_admin: bool) -> bool:
    """Its author or an admin may delete a note (an admin-scope API token counts as an admin)."""
    return is_admin or (user_id is not None and annotation.author_id == user_id)


# --- writes -----------------------------------------------------------------------------------


def _snapshot(annotation: Annotation) -> dict[str, object]:
    return {
        "annotation_id": annotation.pk,
        "at": annotation.at.isoformat(),
        "text": annotation.text,
        "author_id": annotation.author_id,
    }


def annotation_add(
    *, kpi: Kpi, actor: Actor, text: object, at: datetime | None = None
) -> Annotation:
    """Add a note to ``kpi``; its author is the actor's user (none for an API token)."""
    now = clock.now()
    cleaned, when = clean_text(text), clean_at(at, now=now)
    with transaction.atomic():
        annotation = Annotation.objects.create(
            org_id=kpi.org_id, kpi=kpi, at=when, text=cleaned, author_id=actor.user_id
        )
        audit_record(
            org_id=kpi.org_id,
            actor=actor,
            action=Action.ANNOTATION_ADDED,
            target_type="kpi",
            target_id=kpi.pk,
            target_label=kpi.title,
            after=_snapshot(annotation),
        )
    return annotation


def annotation_delete(*, annotation: Annotation, actor: Actor, is_admin: bool) -> None:
    """Delete a note: its author or an admin, else ``Forbidden`` and nothing changes."""
    if not may_delete(annotation, user_id=actor.user_id, is_admin=is_admin):
        raise Forbidden("only the note's author or an admin may delete it")
    with transaction.atomic():
        before = _snapshot(annotation)
        deleted, _ = Annotation.objects.filter(org_id=annotation.org_id, pk=annotation.pk).delete()
        if not deleted:  # removed by a concurrent request: nothing to audit twice
            raise NotFound("note not found")
        audit_record(
            org_id=annotation.org_id,
            actor=actor,
            action=Action.ANNOTATION_DELETED,
            target_type="kpi",
            target_id=annotation.kpi_id,
            target_label=annotation.kpi.title,
            before=before,
        )


# --- reads ------------------------------------------------------------------------------------


def annotation_get(*, org: Organization, annotation_id: str) -> Annotation:
    """One note of ``org`` with its KPI and author, or ``NotFound`` (another org's too)."""
    if not is_object_id(annotation_id):
        raise NotFound("note not found")
    found = (
        Annotation.objects.filter(org=org, pk=annotation_id).select_related("kpi", "author").first()
    )
    if found is None:
        raise NotFound("note not found")
    return found


def annotation_list(
    *,
    org: Organization,
    kpi: Kpi,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Annotation]:
    """The notes on ``kpi``, newest first; ``since`` inclusive, ``until`` exclusive."""
    notes = Annotation.objects.filter(org=org, kpi=kpi).select_related("author")
    if since is not None:
        notes = notes.filter(at__gte=since)
    if until is not None:
        notes = notes.filter(at__lt=until)
    return notes.order_by(*_NEWEST_FIRST)


def _compare_period(kpi: Kpi) -> timedelta:
    # The same fallback as the tile's change (indicators/selectors.py kpi_cards).
    try:
        return parse_duration(kpi.compare_period) if kpi.compare_period else DEFAULT_COMPARE
    except DurationError:
        return DEFAULT_COMPARE


def newest_in_window(
    *, org: Organization, kpis: Sequence[Kpi], now: datetime
) -> dict[str, Annotation]:
    """For each KPI, its newest note dated within its compare period up to ``now``.

    One query whatever the number of KPIs: one window condition per distinct compare
    period, and ``ROW_NUMBER()`` over each KPI's notes keeps only the newest. KPIs
    without such a note are absent from the answer.
    """
    by_period: dict[timedelta, list[str]] = defaultdict(list)
    for kpi in kpis:
        by_period[_compare_period(kpi)].append(kpi.pk)
    if not by_period:
        return {}
    inside = Q()
    for period, ids in by_period.items():
        inside |= Q(kpi_id__in=ids, at__gte=now - period)
    newest = (
        Annotation.objects.filter(org=org, at__lte=now)
        .filter(inside)
        .select_related("author")
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("kpi_id")],
                order_by=[F("at").desc(), F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
    )
    return {note.kpi_id: note for note in newest}
