"""Notes on a KPI in the web app (DESIGN §13): add one, delete one, and what the detail page
shows of them (the list under the chart and the chart's markers).

Any member who can open the KPI's page may add a note (members: published KPIs; admins:
drafts too); its author or an admin may delete it. Both are plain form posts with CSRF
that lead back to the KPI's page; a refused note comes back on its own page with the
reason and the text as typed (422), and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import ValidationFailed
from pulseboard.history import annotations as notes
from pulseboard.history.models import Annotation
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_get
from pulseboard.web.access import MemberRequest, actor_of, member_view
from pulseboard.web.annotation_forms import AnnotationForm
from pulseboard.web.charts import Marker

# A marker's tooltip holds the start of the note; the list under the chart holds all of it.
MARKER_TEXT = 160
NO_AUTHOR = "an API token"


@dataclass(frozen=True)
class NoteRow:
    note: Annotation
    author: str
    may_delete: bool


def author_of(note: Annotation) -> str:
    return note.author.display_name if note.author is not None else NO_AUTHOR


def note_rows(items: Iterable[Annotation], *, user_id: int, is_admin: bool) -> list[NoteRow]:
    """The notes as the list under the chart shows them, each with its delete permission."""
    return [
        NoteRow(
            note=note,
            author=author_of(note),
            may_delete=notes.may_delete(note, user_id=user_id, is_admin=is_admin),
        )
        for note in items
    ]


def chart_markers(items: Iterable[Annotation]) -> list[Marker]:
    """One chart marker per note, its tooltip in the org's time zone (the current one)."""
    markers = []
    for note in items:
        local = timezone.localtime(note.at)
        when = f"{local.day} {local:%b %Y, %H:%M}"
        text = note.text if len(note.text) <= MARKER_TEXT else note.text[:MARKER_TEXT] + "…"
        markers.append(Marker(at=note.at, label=f"{when} · {text} — {author_of(note)}"))
    return markers


def _visible_kpi(request: MemberRequest, kpi_id: str) -> Kpi:
    if not is_object_id(kpi_id):
        raise Http404("KPI not found")
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    if not kpi.published and not request.membership.is_admin:
        raise Http404("KPI not found")
    return kpi


def _detail_url(kpi_id: str) -> str:
    return reverse("web:kpi-detail", args=[kpi_id]) + "#annotations"


@member_view
@require_POST
def annotation_add(request: MemberRequest, kpi_id: str) -> HttpResponse:
    kpi = _visible_kpi(request, kpi_id)
    form = AnnotationForm(request.POST)
    if form.is_valid():
        try:
            notes.annotation_add(
                kpi=kpi,
                actor=actor_of(request),
                text=form.cleaned_data["text"],
                at=form.cleaned_data["at"],
            )
        except ValidationFailed as exc:
            field = next((name for name in exc.errors if name in form.fields), None)
            form.add_error(field, exc.message)
        else:
            messages.success(request, "Note added.")
            return redirect(_detail_url(kpi.pk))
    context = {"kpi": kpi, "form": form, "max_text": notes.MAX_TEXT}
    return render(request, "web/annotation_form.html", context, status=422)


@member_view
@require_POST
def annotation_delete(request: MemberRequest, annotation_id: str) -> HttpResponse:
    note = notes.annotation_get(org=request.org, annotation_id=annotation_id)
    is_admin = request.membership.is_admin
    if not note.kpi.published and not is_admin:
        raise Http404("note not found")
    if not notes.may_delete(note, user_id=request.user.pk, is_admin=is_admin):
        context = {"kpi_id": note.kpi_id}
        return render(request, "web/annotation_forbidden.html", context, status=403)
    notes.annotation_delete(annotation=note, actor=actor_of(request), is_admin=is_admin)
    messages.success(request, "Note deleted.")
    return redirect(_detail_url(note.kpi_id))
