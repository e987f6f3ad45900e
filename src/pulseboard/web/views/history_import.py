"""Settings → KPIs → Import history (admins): a CSV upload, a preview, then the import.

Step one (``Preview``) reads the uploaded file with the importer's rules and shows what
it holds: rows, time range, rows already in history, whether the newest row becomes
the current value, and the first errors. Nothing is stored between the steps: the
``Import`` step uploads the file again (with htmx the file input survives the swap, so
the admin just clicks) and the server reads and checks it again from scratch, then
refuses it unless it is byte for byte the previewed file (its SHA-256 comes back with
the form), so what is imported is what was previewed, and nothing a browser sends is
trusted. The upload is capped at ``MAX_FILE_BYTES`` by an upload handler that stops
reading past it; an announced larger body is refused before it is read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from pulseboard.connectors.manual import ManualConnector
from pulseboard.core.errors import DomainError
from pulseboard.history.importing import MAX_FILE_BYTES, MAX_ROWS, ParsedImport
from pulseboard.history.selectors import import_plan
from pulseboard.history.services import history_import, history_import_parse
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_get
from pulseboard.web.access import MemberRequest, actor_of, admin_view, is_htmx

TEMPLATE = "web/history_import.html"
# Multipart framing around the file: boundaries, the other fields, their headers.
_FORM_OVERHEAD = 64 * 1024


class _CappedUpload(FileUploadHandler):
    """Counts the uploaded bytes and stops the upload once they pass the cap."""

    def __init__(self, request: HttpRequest, cap: int) -> None:
        super().__init__(request)
        self.cap = cap
        self.received = 0
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.cap:
            self.too_large = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) keeps the file


@dataclass(frozen=True)
class Preview:
    parsed: ParsedImport
    checksum: str
    name: str
    new: int = 0
    skipped: int = 0
    applies: bool = False
    newest: datetime | None = None


def _preview(kpi: Kpi, upload: UploadedFile) -> Preview:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    parsed = history_import_parse(upload.chunks())
    preview = Preview(parsed=parsed, checksum=digest.hexdigest(), name=upload.name or "")
    if not parsed.ok:
        return preview
    plan = import_plan(kpi=kpi, points=parsed.points)
    return Preview(
        parsed=parsed,
        checksum=preview.checksum,
        name=preview.name,
        new=len(plan.new),
        skipped=plan.skipped,
        applies=plan.applies,
        newest=plan.new[-1][0] if plan.new else None,
    )


def _refused(request: HttpRequest, status: int) -> int:
    # The page's htmx swaps a 422 in place and nothing else of 4xx (base.html's
    # htmx-config), so an htmx request hears every refusal as 422; a plain POST gets
    # the status that fits.
    return 422 if is_htmx(request) else status


def _page(request: HttpRequest, kpi: Kpi, status: int = 200, **context: Any) -> HttpResponse:
    context = {
        "kpi": kpi,
        "max_mib": MAX_FILE_BYTES // (1024 * 1024),
        "max_rows": f"{MAX_ROWS:,}",
        "htmx": is_htmx(request),
        **context,
    }
    template = f"{TEMPLATE}#import-form" if is_htmx(request) else TEMPLATE
    return render(request, template, context, status=status)


@csrf_exempt  # checked below, once the upload handlers are in place (Django's pattern)
@admin_view
@require_http_methods(["GET", "POST"])
def kpi_history_import(request: MemberRequest, kpi_id: str) -> HttpResponse:
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    if request.method == "GET":
        return _page(request, kpi)
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > MAX_FILE_BYTES + _FORM_OVERHEAD:
        return _too_large(request, kpi)
    handler = _CappedUpload(request, MAX_FILE_BYTES)
    request.upload_handlers.insert(0, handler)
    return _checked_post(request, kpi, handler)


def _too_large(request: HttpRequest, kpi: Kpi) -> HttpResponse:
    error = f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it."
    return _page(request, kpi, status=_refused(request, 413), error=error)


@csrf_protect
def _checked_post(request: HttpRequest, kpi: Kpi, handler: _CappedUpload) -> HttpResponse:
    upload = request.FILES.get("file")
    if handler.too_large:
        return _too_large(request, kpi)
    if upload is None or not upload.size:
        return _page(request, kpi, status=422, error="Choose a CSV file first.")
    preview = _preview(kpi, upload)
    if request.POST.get("step") != "import":
        return _page(request, kpi, status=200 if preview.parsed.ok else 422, preview=preview)
    if request.POST.get("checksum", "") != preview.checksum:
        return _page(
            request,
            kpi,
            status=_refused(request, 409),
            preview=preview,
            error="This is not the file you previewed (it changed since): check the new preview.",
        )
    if not preview.parsed.ok:
        return _page(request, kpi, status=422, preview=preview)
    try:
        outcome = history_import(
            kpi=kpi,
            points=preview.parsed.points,
            actor=actor_of(request),
            source=ManualConnector.kind,
        )
    except DomainError as exc:
        status = _refused(request, exc.status)
        return _page(request, kpi, status=status, preview=preview, error=exc.message)
    skipped = f", {outcome.skipped} already in history skipped" if outcome.skipped else ""
    messages.success(request, f"Imported {outcome.imported} rows into {kpi.title}{skipped}.")
    target = reverse("web:kpi-detail", kwargs={"kpi_id": kpi.pk}) + "?range=all"
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target  # htmx leaves the page for the KPI's history
        return response
    return redirect(target)
