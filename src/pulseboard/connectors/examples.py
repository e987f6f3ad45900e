"""Sender examples for the webhook connector: shell (curl + openssl) and Python.

The same text appears in docs/connectors.md and on a KPI's source page, and a test
runs the copies in the docs against a live server, so what admins copy is known to
work. Both read the endpoint and the secret from ``PULSEBOARD_WEBHOOK_URL`` and
``PULSEBOARD_WEBHOOK_SECRET``, so no secret ends up in a script or a shell history.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Final

URL_VARIABLE: Final = "PULSEBOARD_WEBHOOK_URL"
SECRET_VARIABLE: Final = "PULSEBOARD_WEBHOOK_SECRET"

CURL_EXAMPLE: Final = """\
# Standard Webhooks: sign "{id}.{timestamp}.{body}" with HMAC-SHA256 and the secret's bytes.
body='{"value": 12.5}'
id="msg_$(openssl rand -hex 12)"
ts=$(date +%s)
key=$(printf '%s' "${PULSEBOARD_WEBHOOK_SECRET#whsec_}" | openssl base64 -d -A \\
  | od -An -v -tx1 | tr -d ' \\n')
sig=$(printf '%s' "$id.$ts.$body" \\
  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | openssl base64 -A)
curl -sS --fail-with-body -X POST "$PULSEBOARD_WEBHOOK_URL" \\
  -H 'content-type: application/json' \\
  -H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig" \\
  --data-binary "$body"
"""

PYTHON_EXAMPLE: Final = """\
# pip install standardwebhooks httpx
import json
import os
import uuid
from datetime import datetime, timezone

import httpx
from standardwebhooks import Webhook

url = os.environ["PULSEBOARD_WEBHOOK_URL"]
secret = os.environ["PULSEBOARD_WEBHOOK_SECRET"]

body = json.dumps({"value": 12.5, "observed_at": datetime.now(timezone.utc).isoformat()})
msg_id = f"msg_{uuid.uuid4().hex}"  # reuse the same id when you retry the same value
now = datetime.now(timezone.utc)
response = httpx.post(
    url,
    content=body,
    headers={
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    },
)
print(response.status_code, response.text)
response.raise_for_status()
"""


@dataclass(frozen=True)
class Example:
    title: str
    language: str
    text: str


def examples_for(endpoint: str) -> list[Example]:
    """The examples as a source page shows them: the KPI's endpoint filled in."""
    exports = (
        f"export {URL_VARIABLE}={shlex.quote(endpoint)}\n"
        f"export {SECRET_VARIABLE}='whsec_…'  # the secret shown when it was minted\n"
    )
    return [
        Example(title="curl and openssl", language="sh", text=exports + CURL_EXAMPLE),
        Example(
            title="Python",
            language="python",
            text=f"# {URL_VARIABLE}={endpoint}\n# {SECRET_VARIABLE}=whsec_…\n" + PYTHON_EXAMPLE,
        ),
    ]
