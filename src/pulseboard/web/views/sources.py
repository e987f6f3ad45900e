"""Settings → KPIs → Source (admins): bind a KPI to a connector, the webhook's endpoint and secret.

The kind picker and each kind's inputs come from the connector registry, so a new
connector appears here without a change to this page. A minted or rotated webhook
secret is rendered in the response of the POST that made it, and never again (the
page then shows its hint); that response is marked ``no-store``. Rotation takes a
confirmation step. The last 20 accepted deliveries are listed, and the last 20 pull
attempts (time, outcome, value or error, duration) of a source that has any.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from pulseboard.connectors.base import ConfigField, Connector
from pulseboard.connectors.examples import examples_for
from pulseboard.connectors.models import Source
from pulseboard.connectors.registry import CONNECTORS, connector_for
from pulseboard.connectors.selectors import (
    attempts_recent,
    deliveries_recent,
    source_get,
    source_status,
    webhook_endpoint_url,
)
from pulseboard.connectors.services import source_bind, webhook_secret_rotate
from pulseboard.connectors.sheets.selectors import connection_choices
from pulseboard.connectors.webhook import WebhookConnector
from pulseboard.core import clock
from pulseboard.core.errors import DomainError
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_get
from pulseboard.web.access import MemberRequest, actor_of, admin_view

MAX_INPUT_LENGTH = 2048


def input_name(kind: str, field: ConfigField) -> str:
    return f"{kind}-{field.name}"


def config_from_post(
    connector: Connector[Any], data: QueryDict, *, org_id: int, user_id: int | None
) -> dict[str, Any]:
    """The chosen kind's inputs as the config dict ``source_bind`` validates.

    An empty optional input is left out (the setting's default); an empty secret input
    keeps the stored secret unless its "remove" box is ticked.
    """
    config: dict[str, Any] = {}
    for field in connector.form_fields(org_id=org_id, user_id=user_id):
        name = input_name(connector.kind, field)
        value = data.get(name, "")[:MAX_INPUT_LENGTH].strip()
        if field.secret and data.get(f"{name}-remove"):
            config[field.name] = ""
        elif value or field.required:
            config[field.name] = value
    return config


def _kind_forms(
    request: HttpRequest, source: Source, posted: QueryDict | None
) -> list[dict[str, Any]]:
    """One entry per registered kind: its label, summary and inputs with their values."""
    user_id = request.user.pk
    stored: dict[str, Any] = dict(source.config or {})
    if source.is_pull:
        stored["interval_seconds"] = source.interval_seconds
    forms = []
    # The user's own Google connections, offered by the kinds that read through one.
    connections = connection_choices(org_id=source.org_id, user_id=user_id)
    for kind, connector in CONNECTORS.items():
        fields = []
        for field in connector.form_fields(
            org_id=source.org_id, user_id=user_id, connections=connections
        ):
            name = input_name(kind, field)
            if posted is not None and not field.secret:
                value = posted.get(name, "")
            elif kind == source.kind and not field.secret:
                value = stored.get(field.name, "")
            else:
                value = ""
            fields.append({"field": field, "input": name, "value": value})
        forms.append(
            {
                "kind": kind,
                "label": connector.label,
                "summary": connector.summary,
                "fields": fields,
                "has_secret": kind == source.kind and bool(source.secret_hint),
            }
        )
    return forms


def _page(
    request: MemberRequest,
    kpi: Kpi,
    *,
    secret: str | None = None,
    confirm_rotate: bool = False,
    posted: QueryDict | None = None,
    chosen: str | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    source = source_get(org=request.org, kpi_id=kpi.pk)
    webhook = source.kind == WebhookConnector.kind
    endpoint = webhook_endpoint_url(kpi.pk) if webhook else ""
    context = {
        "kpi": kpi,
        "source": source,
        "status": source_status(source, now=clock.now()),
        "kinds": _kind_forms(request, source, posted),
        "chosen": chosen or source.kind,
        "webhook": webhook,
        "endpoint": endpoint,
        "examples": examples_for(endpoint) if webhook else [],
        "deliveries": list(deliveries_recent(org=request.org, kpi_id=kpi.pk)) if webhook else [],
        "attempts": list(attempts_recent(org=request.org, kpi_id=kpi.pk)),
        "secret": secret,
        "confirm_rotate": confirm_rotate,
        "error": error,
    }
    response = render(request, "web/source.html", context, status=status)
    if secret is not None:
        # The only copy of the secret the server will ever send: keep it out of caches.
        response["Cache-Control"] = "no-store"
    return response


@admin_view
@require_http_methods(["GET", "POST"])
def kpi_source(request: MemberRequest, kpi_id: str) -> HttpResponse:
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    if request.method == "GET":
        return _page(request, kpi)
    kind = request.POST.get("kind", "")
    try:
        connector = connector_for(kind)
        config = config_from_post(
            connector, request.POST, org_id=kpi.org_id, user_id=request.user.pk
        )
        bound = source_bind(kpi=kpi, actor=actor_of(request), kind=kind, config=config)
    except DomainError as exc:
        chosen = kind if kind in CONNECTORS else None
        return _page(request, kpi, posted=request.POST, chosen=chosen, error=exc, status=exc.status)
    if bound.secret is not None:
        return _page(request, kpi, secret=bound.secret)
    label = CONNECTORS[bound.source.kind].label
    messages.success(request, f"Source saved: {label}." if bound.changed else "Nothing changed.")
    return redirect("web:kpi-source", kpi_id=kpi.pk)


@admin_view
@require_http_methods(["GET", "POST"])
def kpi_source_rotate(request: MemberRequest, kpi_id: str) -> HttpResponse:
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    if request.method == "GET":
        return _page(request, kpi, confirm_rotate=True)
    try:
        rotation = webhook_secret_rotate(kpi=kpi, actor=actor_of(request))
    except DomainError as exc:
        return _page(request, kpi, error=exc, status=exc.status)
    return _page(request, kpi, secret=rotation.secret)
