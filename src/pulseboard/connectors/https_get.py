"""The https_get connector: a KPI read from a JSON document at an https URL, on a schedule.

Owns the binding (URL, optional bearer token, RFC 9535 JSONPath, interval) and the pull:
one GET through the worker's SSRF-safe session, the body decoded as JSON, the path must
select exactly one node, and that node parsed as a number, numeric text ("1,234.5",
"99.9%", "$1.2M") or a boolean (``connectors.values``). The URL is checked against the
SSRF rules when it is saved (name resolved, every address judged) and again by the
session on every pull, because DNS answers change. Every failure is a ``PullError`` that
says what went wrong where ("HTTP 503 from status.example.com", "$.data.uptime matched
nothing", "value 'n/a' is not a number"), never the query string or the token.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from datetime import datetime
from typing import Any, ClassVar, Final

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from pulseboard.connectors.base import (
    BindContext,
    Binding,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
    SourceState,
    SourceStatus,
)
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.connectors.schedule import IntervalError, check_interval
from pulseboard.connectors.values import (
    ValueParseError,
    extract_jsonpath,
    parse_json_body,
    parse_number,
    validate_jsonpath,
)
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import (
    MAX_URL_LENGTH,
    FetchError,
    SafeFetchPolicy,
    SafeSession,
    UnsafeURLError,
    check_url,
    validate_url_sync,
)
from pulseboard.indicators.durations import DurationError, parse_duration

MAX_TOKEN_LENGTH: Final = 4096
# RFC 6750 b64token plus the characters real-world tokens use (JWTs, opaque keys).
_TOKEN: Final = re.compile(r"[\x21-\x7e]+")
_BEARER_PREFIX: Final = re.compile(r"bearer\s+", re.IGNORECASE)
_ANY_ADDRESS: Final = SafeFetchPolicy(
    allow_private=(ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))
)


class HttpsGetConfig(PullConfig):
    url: str = Field(
        title="URL",
        description="An https address answering with JSON, e.g. https://status.example.com/api",
        max_length=MAX_URL_LENGTH,
        json_schema_extra={"widget": "url"},
    )
    json_path: str = Field(
        title="JSONPath",
        description="Where the number is in the JSON (RFC 9535), e.g. $.data.uptime",
        max_length=1000,
    )
    bearer_token: SecretStr | None = Field(
        default=None,
        title="Bearer token",
        description=(
            "Optional. Sent as 'Authorization: Bearer …'. Stored encrypted and never shown "
            "again; leave empty to keep the saved one."
        ),
    )

    @field_validator("url")
    @classmethod
    def _url_is_https_and_not_obviously_private(cls, value: str) -> str:
        # The static checks only (scheme, userinfo, host form, reserved names): addresses,
        # literal or resolved, are judged against the operator's policy in ``bind`` and by
        # the session on every pull, so a pull names the refused address itself.
        try:
            check_url(value, _ANY_ADDRESS)
        except UnsafeURLError as exc:
            raise PydanticCustomError("url", exc.reason) from None
        return value

    @field_validator("json_path")
    @classmethod
    def _json_path_is_rfc9535(cls, value: str) -> str:
        try:
            return validate_jsonpath(value)
        except ValueParseError as exc:
            raise PydanticCustomError("json_path", str(exc)) from None

    @field_validator("bearer_token", mode="before")
    @classmethod
    def _token_is_one_printable_word(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        # Admins paste the whole header value as often as the token itself.
        token = _BEARER_PREFIX.sub("", value.strip(), count=1)
        if len(token) > MAX_TOKEN_LENGTH:
            raise PydanticCustomError(
                "token", f"the token is longer than {MAX_TOKEN_LENGTH} characters"
            )
        if token and not _TOKEN.fullmatch(token):
            raise PydanticCustomError(
                "token", "the token must be printable ASCII without spaces or line breaks"
            )
        return token

    @field_validator("interval_seconds", mode="before")
    @classmethod
    def _interval_in_range(cls, value: Any) -> int:
        # Durations as admins type them elsewhere ("15m", "1h") are welcome here too.
        if isinstance(value, str):
            text = value.strip()
            if text.isascii() and text.isdigit():
                value = int(text)
            else:
                try:
                    value = int(parse_duration(text).total_seconds())
                except DurationError as exc:
                    raise PydanticCustomError("interval", str(exc)) from None
        try:
            return check_interval(value)
        except IntervalError as exc:
            raise PydanticCustomError("interval", str(exc)) from None


def _shown_url(url: str) -> str:
    # The query string may carry an API key some services insist on; keep it off screens.
    split = urllib.parse.urlsplit(url)
    suffix = "?…" if split.query else ""
    return f"{split.scheme}://{split.netloc}{split.path}{suffix}"


class HttpsGetConnector(PullConnector[HttpsGetConfig]):
    kind: ClassVar[str] = "https_get"
    label: ClassVar[str] = "HTTPS JSON"
    summary: ClassVar[str] = "Read a number from a JSON document at an https URL on a schedule."
    config_model = HttpsGetConfig

    def bind(self, config: HttpsGetConfig, *, context: BindContext) -> Binding:
        try:
            validate_url_sync(config.url, fetch_policy())
        except UnsafeURLError as exc:
            raise ValidationFailed(
                f"invalid https_get settings: url: {exc.reason}", errors={"url": exc.reason}
            ) from None
        return super().bind(config, context=context)

    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        config = self.stored_config(context.config)
        headers = {"Accept": "application/json"}
        if context.secret:
            headers["Authorization"] = f"Bearer {context.secret}"
        try:
            result = await session.get(config.url, headers=headers)
        except UnsafeURLError as exc:
            raise PullError(f"URL refused: {exc.reason}") from None
        except FetchError as exc:
            raise PullError(str(exc)) from None
        try:
            document = parse_json_body(result.body)
            return Observation(value=parse_number(extract_jsonpath(document, config.json_path)))
        except ValueParseError as exc:
            raise PullError(str(exc)) from None

    def describe_status(self, state: SourceState, *, now: datetime) -> SourceStatus:
        status = super().describe_status(state, now=now)
        details: list[tuple[str, str]] = []
        url = state.config.get("url")
        if isinstance(url, str):
            details.append(("URL", _shown_url(url)))
        path = state.config.get("json_path")
        if isinstance(path, str):
            details.append(("JSONPath", path))
        if state.secret_hint:
            details.append(("Bearer token", f"…{state.secret_hint}"))
        return SourceStatus(
            summary=status.summary, failing=status.failing, details=(*details, *status.details)
        )
