"""Test senders of webhook deliveries, signed with ``standardwebhooks`` as integrators sign."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import WebhookDelivery
from pulseboard.connectors.services import source_bind
from pulseboard.core.actors import Actor
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi


def bind_webhook(kpi: Kpi) -> str:
    """Bind ``kpi`` to a webhook and return its once-shown secret."""
    bound = source_bind(kpi=kpi, actor=Actor.system("test"), kind="webhook", config={})
    assert bound.secret is not None
    return bound.secret


def signed_headers(
    secret: str, body: bytes | str, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    text = body if isinstance(body, str) else body.decode()
    moment = at or datetime.now(UTC)
    webhook_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, text),
    }


def deliver(
    url: str,
    secret: str,
    payload: Any = None,
    *,
    body: bytes | None = None,
    msg_id: str | None = None,
    at: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a signed delivery; ``headers`` override the signed ones (None values drop them)."""
    raw = body if body is not None else json.dumps(payload).encode()
    sent = signed_headers(secret, raw, msg_id=msg_id, at=at)
    for name, value in (headers or {}).items():
        if value is None:
            sent.pop(name, None)
        else:
            sent[name] = value
    return httpx.post(url, content=raw, headers=sent, timeout=30)


@dataclass(frozen=True)
class Written:
    """What a delivery can write: compare before and after to prove nothing was."""

    history: int
    deliveries: int
    audit: int
    value: float | None
    observed_at: datetime | None

    @classmethod
    def now(cls, kpi: Kpi) -> Written:
        fresh = Kpi.objects.get(pk=kpi.pk)
        return cls(
            history=KpiHistory.objects.filter(kpi=kpi).count(),
            deliveries=WebhookDelivery.objects.filter(kpi=kpi).count(),
            audit=AuditEvent.objects.filter(org_id=kpi.org_id).count(),
            value=fresh.current_value,
            observed_at=fresh.observed_at,
        )
