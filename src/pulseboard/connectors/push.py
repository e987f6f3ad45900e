"""The sender side of the webhook connector: what ``pulseboard push`` does.

Signs ``{"value": …, "observed_at"?: …}`` with the ``standardwebhooks`` library (the
same headers any integrator sends) and posts it with httpx. The target is the
operator's own Pulseboard, named on the command line, so this is not a connector
pull and does not go through ``core.safe_http``'s SSRF rules.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import httpx

from pulseboard.connectors.webhook import body_of, sign_headers

TIMEOUT_SECONDS: Final = 30.0


class PushFailed(Exception):
    """The delivery could not be made or was refused; ``message`` says why."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PushOutcome:
    status: int
    webhook_id: str
    replay: bool
    applied: bool
    value: float
    observed_at: str


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data["detail"]
    return response.text[:300].strip() or response.reason_phrase


def push(
    *,
    url: str,
    secret: str,
    value: float,
    observed_at: str | None,
    now: datetime,
    webhook_id: str | None = None,
) -> PushOutcome:
    """Send one signed value; ``PushFailed`` with the server's message unless it is accepted."""
    if not math.isfinite(value):
        raise PushFailed("the value must be a finite number")
    if not url.startswith(("http://", "https://")):
        raise PushFailed("the URL must start with http:// or https://")
    if not secret.startswith("whsec_"):
        raise PushFailed("the secret must be the whsec_… value shown when it was minted")
    body = body_of(value, observed_at)
    msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    try:
        headers = sign_headers(secret=secret, body=body, webhook_id=msg_id, now=now)
    except Exception:
        # The library rejects secrets that are not base64 with assorted exceptions.
        raise PushFailed("the secret is not a valid whsec_… secret") from None
    headers["content-type"] = "application/json"
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
            response = client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        raise PushFailed(f"could not reach {url}: {exc}") from None
    if response.status_code != 200:
        raise PushFailed(
            f"rejected ({response.status_code}): {_detail(response)}", status=response.status_code
        )
    try:
        data = response.json()
        return PushOutcome(
            status=response.status_code,
            webhook_id=msg_id,
            replay=bool(data["replay"]),
            applied=bool(data["applied"]),
            value=float(data["value"]),
            observed_at=str(data["observed_at"]),
        )
    except (ValueError, KeyError, TypeError):
        raise PushFailed(
            f"the server answered 200 but not as Pulseboard does: {response.text[:200]!r}",
            status=response.status_code,
        ) from None


def outcome_line(outcome: PushOutcome) -> str:
    """One line for the terminal."""
    if outcome.replay:
        what = "already accepted earlier (replay): nothing new was recorded"
    elif outcome.applied:
        what = "recorded as the current value"
    else:
        what = "recorded in history only (older than the current value)"
    return (
        f"accepted: {json.dumps(outcome.value)} observed at {outcome.observed_at}, {what} "
        f"[webhook-id {outcome.webhook_id}]"
    )
