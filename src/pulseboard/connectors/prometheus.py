"""The prometheus connector: a KPI read from a PromQL instant query, on a schedule (§14).

Owns the binding (``base_url`` over http or https, the PromQL ``query`` of at most
``MAX_QUERY_BYTES``, an optional bearer token kept encrypted, the interval) and the pull:
one ``GET {base_url}/api/v1/query?query=…`` through the worker's SSRF-safe session, the
answer read as Prometheus' JSON envelope, and the result reduced to one number: a scalar,
or a vector of exactly one series. Several series, none, NaN/±Inf, a matrix or a string,
``status: error`` (quoted, truncated), a body that is not JSON or too large: each a
``PullError`` an admin can act on, never carrying the token.

Addresses: Prometheus usually listens on plain http inside a private network, so http is
accepted, and the address rules are https_get's exactly (``PULSEBOARD_ALLOW_PRIVATE_CIDRS``
is the only way in): the URL is resolved and judged when saved and again by the session
on every pull.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from typing import Any, ClassVar, Final

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from pulseboard.connectors import outbound_checks
from pulseboard.connectors.base import (
    BindContext,
    Binding,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
    SourceState,
    checked_query_text,
    text_details,
)
from pulseboard.core.safe_http import FetchError, SafeSession

MAX_QUERY_BYTES: Final = 4096
MAX_QUOTED_ERROR: Final = 300
QUERY_PATH: Final = "/api/v1/query"


class PrometheusConfig(PullConfig):
    base_url: str = outbound_checks.url_field(
        title="Prometheus URL",
        description="Where Prometheus answers, http or https, e.g. http://10.0.4.2:9090",
    )
    query: str = Field(
        title="PromQL query",
        description="An instant query giving one number, e.g. sum(rate(http_requests_total[5m]))",
    )
    bearer_token: outbound_checks.BearerToken = None

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http_and_not_obviously_private(cls, value: str) -> str:
        # Static checks only; addresses are judged against the operator's policy in
        # ``bind`` and by the session on every pull (as for https_get).
        outbound_checks.check_url_form(value, "base_url", allow_http=True)
        split = urllib.parse.urlsplit(value)
        if split.query or split.fragment or value.endswith(("?", "#")):
            raise PydanticCustomError(
                "base_url", "give the server's address only, without ?query or #fragment"
            )
        if split.path.rstrip("/").endswith(QUERY_PATH):
            raise PydanticCustomError(
                "base_url", f"give the server's address without {QUERY_PATH}: it is added"
            )
        return value.rstrip("/")

    @field_validator("query")
    @classmethod
    def _query_is_short_text(cls, value: str) -> str:
        return checked_query_text(value, max_bytes=MAX_QUERY_BYTES)


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTED_ERROR else text[: MAX_QUOTED_ERROR - 1] + "…"


def _sample_value(sample: Any) -> float:
    """The number of a ``[timestamp, "value"]`` pair; NaN and ±Inf are refused."""
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str):
        raise PullError("Prometheus answered with a malformed sample")
    try:
        value = float(sample[1])
    except ValueError:
        raise PullError(f"Prometheus sample {_quoted(sample[1])!r} is not a number") from None
    if not math.isfinite(value):
        raise PullError(
            f"the query result is {sample[1]}, not a finite number (a division by zero?)"
        )
    return value


def result_value(document: Any) -> float:
    """One number from a successful ``/api/v1/query`` answer, or ``PullError`` saying why not."""
    if not isinstance(document, dict):
        raise PullError("Prometheus answered with JSON that is not its API envelope")
    if document.get("status") == "error":
        kind = document.get("errorType")
        error = document.get("error")
        detail = _quoted(str(error)) if error else "no reason given"
        prefix = (
            f"Prometheus refused the query ({kind})" if kind else "Prometheus refused the query"
        )
        raise PullError(f"{prefix}: {detail}")
    data = document.get("data")
    if document.get("status") != "success" or not isinstance(data, dict):
        raise PullError("Prometheus answered with JSON that is not its API envelope")
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "scalar":
        return _sample_value(result)
    if result_type == "vector":
        if not isinstance(result, list):
            raise PullError("Prometheus answered with a malformed vector")
        if not result:
            raise PullError(
                "the query returned no series (no data for it now: check the metric name "
                "and labels, or wrap it, e.g. sum(...) or vector(0))"
            )
        if len(result) > 1:
            raise PullError(f"the query returned {len(result)} series; aggregate it, e.g. sum(...)")
        series = result[0]
        return _sample_value(series.get("value") if isinstance(series, dict) else None)
    if result_type == "matrix":
        raise PullError("the query returned a range vector; use an instant query, e.g. sum(...)")
    if result_type == "string":
        raise PullError("the query returned a string, not a number")
    raise PullError("Prometheus answered with an unknown result type")


def _document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _explain_refusal(exc: FetchError) -> None:
    # Prometheus explains a refused query (400, 422, 503) in its JSON envelope.
    document = _document(exc.body)
    if isinstance(document, dict) and document.get("status") == "error":
        result_value(document)


class PrometheusConnector(PullConnector[PrometheusConfig]):
    kind: ClassVar[str] = "prometheus"
    label: ClassVar[str] = "Prometheus"
    summary: ClassVar[str] = "Read a number from a PromQL query on a Prometheus server."
    config_model = PrometheusConfig

    def bind(self, config: PrometheusConfig, *, context: BindContext) -> Binding:
        outbound_checks.check_url_allowed(
            config.base_url, kind=self.kind, field="base_url", allow_http=True
        )
        return super().bind(config, context=context)

    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        config = self.stored_config(context.config)
        result = await outbound_checks.guarded_get(
            session,
            config.base_url + QUERY_PATH,
            headers=outbound_checks.json_request_headers(context.secret),
            params={"query": config.query},
            allow_http=True,
            explain_failure=_explain_refusal,
        )
        document = _document(result.body)
        if document is None:
            raise PullError(
                f"the answer from {urllib.parse.urlsplit(config.base_url).netloc} is not JSON:"
                " is base_url a Prometheus server?"
            )
        return Observation(value=result_value(document))

    def config_details(self, state: SourceState) -> list[tuple[str, str]]:
        details = text_details(
            state.config, ("base_url", "Prometheus", str), ("query", "Query", _quoted)
        )
        if state.secret_hint:
            details.append(("Bearer token", f"…{state.secret_hint}"))
        return details
