"""The inbound webhook endpoint ``POST /hooks/kpis/<kpi_id>`` (DESIGN.md §6).

A plain Django view, exempt from CSRF, that never touches the session or the user:
the signature is the only credential. It reads at most 64 KiB + 1 byte of the body
(413 beyond), loads only the KPI's webhook source row (one query), checks the Standard
Webhooks signature and the body, then hands the delivery to ``webhook_deliver``. The 200
reply names the body's top-level fields it ignored (``ignored_fields``). A KPI
that does not exist, or is not bound to a webhook, is checked against a decoy secret
along the same path, so its answer is byte for byte that of a bad signature.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from pulseboard.connectors import ingest
from pulseboard.connectors.services import DeliveryTargetGone, webhook_deliver
from pulseboard.connectors.webhook import (
    MAX_BODY_BYTES,
    SIGNATURE_MISMATCH,
    WebhookRejected,
    decoy_secret,
    parse_body,
    too_large,
    verify,
)
from pulseboard.core import clock
from pulseboard.core.client_address import client_ip
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.metrics import record_webhook

logger = logging.getLogger(__name__)

# KPI ids are new_id()'s url-safe text; anything else names no KPI (and a NUL byte would
# upset PostgreSQL), so it takes the decoy path without a query.
_KPI_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _answer(status: int, body: dict[str, object], outcome: str) -> JsonResponse:
    record_webhook(outcome)
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _rejected(rejection: WebhookRejected) -> JsonResponse:
    return _answer(rejection.status, {"detail": rejection.message}, rejection.outcome)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _secret_for(kpi_id: str, entry: ingest.CachedTarget | None) -> str:
    if entry is None:
        return decoy_secret()
    if entry.secret is None:
        # An operator removed a key too early; the sender cannot fix that, the log says why.
        logger.error("the webhook secret of KPI %s cannot be decrypted with any key", kpi_id)
        return decoy_secret()
    return entry.secret


@csrf_exempt
def webhook_receive(request: HttpRequest, kpi_id: str) -> JsonResponse:
    if request.method != "POST":
        response = JsonResponse({"detail": "send the delivery with POST"}, status=405)
        response["Allow"] = "POST"
        return response
    if _declared_length(request) > MAX_BODY_BYTES:
        return _rejected(too_large())
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _rejected(too_large())

    # The source and its decrypted secret come from an in-process cache (ingest.py). A
    # stale entry costs one retry from the database, never a wrong answer: the write
    # checks under its row lock that the source still holds the secret verified here.
    answer = _receive(request, kpi_id, body, fresh=False)
    if answer is None:
        answer = _receive(request, kpi_id, body, fresh=True)
        assert answer is not None  # a fresh target is never "retry"
    return answer


def _receive(request: HttpRequest, kpi_id: str, body: bytes, *, fresh: bool) -> JsonResponse | None:
    """The answer to a delivery; None when a cached target failed (retry with ``fresh``)."""
    entry, cached = (
        ingest.target_for(kpi_id, fresh=fresh) if _KPI_ID.fullmatch(kpi_id) else (None, False)
    )
    secret = _secret_for(kpi_id, entry)
    try:
        webhook_id = verify(secret=secret, body=body, headers=request.headers, now=clock.now())
        if entry is None:  # unreachable: nobody holds the decoy; kept so typing agrees
            return _answer(401, {"detail": SIGNATURE_MISMATCH}, "unauthorized")
        payload = parse_body(body)
        outcome = webhook_deliver(
            target=entry.target, webhook_id=webhook_id, payload=payload, ip=client_ip(request)
        )
    except WebhookRejected as rejection:
        if cached and rejection.message == SIGNATURE_MISMATCH:
            return None  # the secret may have been rotated by another process
        return _rejected(rejection)
    except DeliveryTargetGone:
        if cached:
            return None
        return _answer(401, {"detail": SIGNATURE_MISMATCH}, "unauthorized")
    except ValidationFailed as exc:
        detail: dict[str, object] = {"detail": exc.message}
        if exc.errors:
            detail["errors"] = exc.errors
        return _answer(422, detail, "invalid")
    return _answer(
        200,
        {
            "accepted": True,
            "replay": outcome.replay,
            "applied": outcome.applied,
            "value": outcome.value,
            "observed_at": outcome.observed_at.isoformat(),
            # Top-level body fields other than value/observed_at: accepted, not used.
            "ignored_fields": list(payload.ignored_fields),
        },
        "replayed" if outcome.replay else "accepted",
    )
