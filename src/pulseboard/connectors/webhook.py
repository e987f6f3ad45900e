"""The webhook connector: the Standard Webhooks check of an inbound delivery and its body.

Owns the secret format (``whsec_`` + base64 of 24 random bytes), the header and
signature checks around the ``standardwebhooks`` library (which does the HMAC and the
±5 minute window), the body rules (``{"value": <finite number>, "observed_at"?: ISO
8601 with offset}``; other top-level fields are ignored and named back to the sender),
and the ``WebhookConnector`` the registry lists.

Interop (Standard Webhooks): ``webhook-signature`` may carry several space-separated
``<version>,<base64>`` entries. Only ``v1`` (HMAC-SHA256) is ours: entries of other
versions (``v1a`` is the asymmetric scheme) and entries that are not ``version,base64``
are ignored; one matching ``v1`` entry is enough, and a header without any well-formed
``v1`` entry is refused before the HMAC is computed.

Pure: no Django, no database, no I/O; ``now`` is an argument (the library also reads
the system clock for its own window check; both agree to the millisecond).
Every failure is a ``WebhookRejected`` carrying the HTTP status, a message for the
sender and the metrics outcome; no exception of the library escapes, whatever the input.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

from standardwebhooks import Webhook

from pulseboard.connectors.base import (
    BindContext,
    Binding,
    Connector,
    ConnectorConfig,
    SecretKeep,
    SecretSet,
    SourceState,
    SourceStatus,
)

MAX_BODY_BYTES: Final = 64 * 1024
TOLERANCE: Final = timedelta(minutes=5)
REPLAY_WINDOW: Final = timedelta(hours=24)
SECRET_PREFIX: Final = "whsec_"
SECRET_BYTES: Final = 24
MAX_WEBHOOK_ID_LENGTH: Final = 200
HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")
BODY_FIELDS: Final = frozenset({"value", "observed_at"})
SIGNATURE_VERSION: Final = "v1"
# The reply names at most this many ignored fields, each cut to this many characters.
IGNORED_FIELDS_SHOWN: Final = 20
IGNORED_NAME_CHARS: Final = 100
BODY_SHAPE: Final = '{"value": <number>, "observed_at": "<ISO 8601>" (optional)}'

# One message for a wrong secret, a tampered body and a KPI that does not exist or is not
# bound to a webhook: the answer must not tell a prober which KPI ids are real.
SIGNATURE_MISMATCH: Final = (
    "the webhook signature does not match: sign with this KPI's current secret over "
    '"{webhook-id}.{webhook-timestamp}.{raw body}"'
)
NO_V1_SIGNATURE: Final = (
    'webhook-signature holds no well-formed "v1,<base64 signature>" entry (entries of '
    "other versions, such as v1a, and malformed entries are ignored)"
)
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")


class WebhookRejected(Exception):
    """A delivery refused; ``message`` tells the sender what is wrong."""

    def __init__(self, status: int, message: str, *, outcome: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.outcome = outcome  # the metrics label (core.metrics.WEBHOOK_OUTCOMES)


def _unauthorized(message: str) -> WebhookRejected:
    return WebhookRejected(401, message, outcome="unauthorized")


def _invalid(message: str) -> WebhookRejected:
    return WebhookRejected(422, message, outcome="invalid")


def too_large() -> WebhookRejected:
    return WebhookRejected(
        413, f"the body is larger than {MAX_BODY_BYTES // 1024} KiB", outcome="too_large"
    )


def secret_mint() -> str:
    """A fresh secret in the Standard Webhooks format: 24 bytes, 32 base64 characters.

    No padding, so the four-character hint is all signal.
    """
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def decoy_secret() -> str:
    """A secret nobody holds, to check requests for unknown KPIs along the same code path."""
    return secret_mint()


@dataclass(frozen=True)
class Payload:
    value: float
    observed_at: datetime | None
    # Top-level fields the body carried beyond value/observed_at, sorted (sender metadata).
    ignored_fields: tuple[str, ...] = ()


def _header(headers: Mapping[str, str], name: str) -> str:
    # Django's request.headers is case-insensitive; a plain dict from a test may not be.
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return (value or "").strip()


def _timestamp(text: str, now: datetime) -> int:
    if not _TIMESTAMP.fullmatch(text):
        raise _unauthorized("webhook-timestamp must be the send time in whole Unix seconds")
    sent = int(text)
    skew = now.timestamp() - sent
    if abs(skew) > TOLERANCE.total_seconds():
        direction = "old" if skew > 0 else "far in the future"
        # No server time in the body: the Date header has it, and the same request must
        # get the same answer whether or not the KPI exists.
        raise _unauthorized(
            f"webhook-timestamp is too {direction}: it must be within 5 minutes of the "
            "server's clock (see this response's Date header)"
        )
    return sent


def v1_signatures(text: str) -> list[str]:
    """The well-formed ``v1,<base64>`` entries of a ``webhook-signature`` header, in order.

    Entries of another version and entries that are not ``version,base64`` are skipped,
    as the spec asks of a receiver; the library then sees only what it can check.
    """
    found = []
    for entry in text.split():
        version, comma, signature = entry.partition(",")
        if version != SIGNATURE_VERSION or not comma or not _BASE64.fullmatch(signature):
            continue
        try:
            base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            continue
        found.append(f"{SIGNATURE_VERSION},{signature}")
    return found


def _signatures(text: str) -> str:
    found = v1_signatures(text)
    if not found:
        raise _unauthorized(NO_V1_SIGNATURE)
    return " ".join(found)


def verify(*, secret: str, body: bytes, headers: Mapping[str, str], now: datetime) -> str:
    """The delivery's ``webhook-id`` once the signature checks out; ``WebhookRejected`` else.

    Runs the same steps whatever the secret, so a decoy secret (unknown KPI) answers
    exactly as a wrong one would.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("the body must be JSON encoded as UTF-8") from None
    values = {name: _header(headers, name) for name in HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise _unauthorized(f"missing header(s): {', '.join(missing)} (Standard Webhooks)")
    sent = _timestamp(values["webhook-timestamp"], now)
    signature = _signatures(values["webhook-signature"])
    checked = {
        "webhook-id": values["webhook-id"],
        "webhook-timestamp": str(sent),
        "webhook-signature": signature,
    }
    try:
        Webhook(secret).verify(text, checked, json_parse=False)
    except Exception:
        # The library signals a mismatch with its own error but lets ValueError,
        # binascii.Error and friends escape on odd input; every one is a refusal.
        raise _unauthorized(SIGNATURE_MISMATCH) from None
    webhook_id = values["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH or not _PRINTABLE.fullmatch(webhook_id):
        raise _invalid(
            f"webhook-id must be at most {MAX_WEBHOOK_ID_LENGTH} printable ASCII characters"
        )
    return webhook_id


class _NotJsonNumber(ValueError):
    """NaN, Infinity and -Infinity: Python's json reads them, JSON does not have them."""


def _no_constants(name: str) -> float:
    raise _NotJsonNumber(name)


def _value(raw: object) -> float:
    if raw is None:
        raise _invalid("value must be a number, not null")
    if isinstance(raw, bool):
        raise _invalid("value must be a number, not true or false")
    if isinstance(raw, str):
        raise _invalid('value must be a JSON number, not a string: send 12.5, not "12.5"')
    if not isinstance(raw, int | float):
        raise _invalid(f"value must be a number, not {type(raw).__name__}")
    try:
        number = float(raw)
    except OverflowError:
        raise _invalid("value is too large") from None
    if not math.isfinite(number):
        raise _invalid("value must be a finite number")
    return number


def _observed_at(raw: object) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _invalid('observed_at must be an ISO 8601 string, e.g. "2025-01-31T09:30:00Z"')
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(
            f'observed_at {raw[:40]!r} is not ISO 8601, e.g. "2025-01-31T09:30:00Z"'
        ) from None
    if moment.tzinfo is None:
        raise _invalid("observed_at must include a time zone offset, e.g. Z or +02:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # "0001-01-01T00:00:00+14:00" parses, but its UTC instant is before year 1.
        raise _invalid(f"observed_at {raw[:40]!r} is out of range") from None


def parse_body(body: bytes) -> Payload:
    """The value and observation time of a verified body; ``WebhookRejected`` (422) else."""
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except _NotJsonNumber:
        raise _invalid("value must be a finite number (NaN and Infinity are not JSON)") from None
    except ValueError:
        raise _invalid(f"the body is not JSON; send {BODY_SHAPE}") from None
    except RecursionError:
        raise _invalid(f"the body is nested too deeply; send {BODY_SHAPE}") from None
    if not isinstance(data, dict):
        raise _invalid(f"the body must be a JSON object: {BODY_SHAPE}")
    if "value" not in data:
        raise _invalid(f"value is missing; send {BODY_SHAPE}")
    # Senders add metadata (their own ids, an environment name): ignored, and named back
    # in the reply so a misspelt "observed_at" does not pass unnoticed.
    ignored = sorted(set(data) - BODY_FIELDS)[:IGNORED_FIELDS_SHOWN]
    return Payload(
        value=_value(data["value"]),
        observed_at=_observed_at(data.get("observed_at")),
        ignored_fields=tuple(name[:IGNORED_NAME_CHARS] for name in ignored),
    )


def sign_headers(*, secret: str, body: str, webhook_id: str, now: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` (the sender side: ``pulseboard push``)."""
    sent = datetime.fromtimestamp(int(now.timestamp()), tz=UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, sent, body),
    }


class WebhookConfig(ConnectorConfig):
    """A webhook has no settings: the endpoint is the KPI's, the secret is minted."""


class WebhookConnector(Connector[WebhookConfig]):
    kind: ClassVar[str] = "webhook"
    label: ClassVar[str] = "Webhook"
    summary: ClassVar[str] = "Your system pushes each new value, signed (Standard Webhooks)."
    config_model = WebhookConfig

    def bind(self, config: WebhookConfig, *, context: BindContext) -> Binding:
        # Saving a webhook again keeps its secret; a new one comes only from rotation.
        keep = context.same_kind(self.kind) and context.has_secret
        if keep:
            return Binding(config={}, secret=SecretKeep())
        return Binding(config={}, secret=SecretSet(secret_mint(), shown_once=True))

    def describe_status(self, state: SourceState, *, now: datetime) -> SourceStatus:
        details: tuple[tuple[str, str], ...] = ()
        if state.secret_hint:
            details = (("Secret", f"whsec_…{state.secret_hint}"),)
        return SourceStatus(
            summary="Webhook: values arrive when your system pushes them", details=details
        )


def body_of(value: float, observed_at: str | None = None) -> str:
    """The JSON body a sender posts."""
    payload: dict[str, Any] = {"value": value}
    if observed_at is not None:
        payload["observed_at"] = observed_at
    return json.dumps(payload, allow_nan=False)
