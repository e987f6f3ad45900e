"""The https_get connector: a KPI read from a JSON document at an https URL, on a schedule.

Owns the binding (URL, optional bearer token, optional extra headers for API-key style
auth, RFC 9535 JSONPath, interval) and the pull:
one GET through the worker's SSRF-safe session, the body decoded as JSON, the path must
select exactly one node, and that node parsed as a number, numeric text ("1,234.5",
"99.9%", "$1.2M") or a boolean (``connectors.values``). The URL is checked against the
SSRF rules when it is saved (name resolved, every address judged) and again by the
session on every pull, because DNS answers change. Every failure is a ``PullError`` that
says what went wrong where ("HTTP 503 from status.example.com", "$.data.uptime matched
nothing", "value 'n/a' is not a number"), never the query string or the token.

Credentials: the bearer token and the header values (DESIGN §14) are all secrets, kept
together in the source's one encrypted secret (``credentials_text``): never in the JSON
config, so never in an API answer or an audit event. The config keeps the header names
with a hint each (``header_hints``, read only). A save without ``bearer_token`` or
without ``headers`` keeps what is stored; a header given as null keeps its stored value.
Refused: ``Host``, hop-by-hop and framing headers, ``Authorization`` together with a
bearer token, names that are not HTTP tokens, values with control characters, more than
``MAX_HEADERS`` headers or ``MAX_HEADERS_BYTES`` in all. Headers go with every pull and
are dropped on a redirect to another origin.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from pulseboard.connectors import outbound_checks
from pulseboard.connectors.base import (
    BindContext,
    Binding,
    ConfigField,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
    SecretChange,
    SecretClear,
    SecretKeep,
    SecretSet,
    SourceState,
    secret_hint,
    text_details,
)
from pulseboard.connectors.schedule import IntervalError, check_interval
from pulseboard.connectors.values import (
    ValueParseError,
    extract_jsonpath,
    parse_json_body,
    parse_number,
    validate_jsonpath,
)
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import SafeSession
from pulseboard.indicators.durations import DurationError, parse_duration

MAX_HEADERS: Final = 20
MAX_HEADER_NAME_LENGTH: Final = 100
MAX_HEADERS_BYTES: Final = 8 * 1024  # names and values together
# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Printable ASCII, spaces and tabs inside: no CR, LF, NUL or other control characters.
_HEADER_VALUE: Final = re.compile(r"[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?")
# Set by the client for each connection or message, never by an admin (RFC 9110 §7.6.1).
_REFUSED_HEADERS: Final = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
# Short values are shown as "set" only: four characters of them would be most of them.
_HINTED_FROM: Final = 12
# The secret of a source with headers; a bearer token alone is stored as it is (no space
# can occur in a token, so the two forms never meet).
_CREDENTIALS_PREFIX: Final = "https_get-credentials/1 "


class HttpsGetConfig(PullConfig):
    url: str = outbound_checks.url_field(
        title="URL",
        description="An https address answering with JSON, e.g. https://status.example.com/api",
    )
    json_path: str = Field(
        title="JSONPath",
        description="Where the number is in the JSON (RFC 9535), e.g. $.data.uptime",
        max_length=1000,
    )
    bearer_token: outbound_checks.BearerToken = None

    headers: dict[str, SecretStr | None] | None = Field(
        default=None,
        title="Headers",
        description=(
            'Optional. Extra request headers, e.g. {"X-Api-Key": "…"}. Values are stored '
            "encrypted and never shown again; null keeps a header's saved value, {} removes "
            "them all, leaving it out keeps the saved ones."
        ),
    )
    header_hints: dict[str, str] | None = Field(
        default=None,
        title="Header hints",
        description="Read only: the saved header names with a hint of each value; ignored.",
    )

    @field_validator("headers", mode="before")
    @classmethod
    def _headers_are_safe(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise PydanticCustomError("headers", "must be an object of {name: value}")
        if len(value) > MAX_HEADERS:
            raise PydanticCustomError("headers", f"at most {MAX_HEADERS} headers")
        checked: dict[str, str | None] = {}
        seen: set[str] = set()
        size = 0
        for name, given in value.items():
            header = _checked_header_name(name)
            if header.lower() in seen:
                raise PydanticCustomError("headers", f"the header {header} is given twice")
            seen.add(header.lower())
            if isinstance(given, SecretStr):
                given = given.get_secret_value()
            if given is not None and not isinstance(given, str):
                raise PydanticCustomError(
                    "headers", f"the value of {header} must be text (or null to keep it)"
                )
            if given is not None:
                given = given.strip()
                # The value may be a key: name the header, never echo the value.
                if not _HEADER_VALUE.fullmatch(given):
                    raise PydanticCustomError(
                        "headers",
                        f"the value of {header} must be printable ASCII on one line, not empty",
                    )
                size += len(given)
            size += len(header)
            checked[header] = given
        if size > MAX_HEADERS_BYTES:
            raise PydanticCustomError(
                "headers", f"the headers are longer than {MAX_HEADERS_BYTES // 1024} KiB in all"
            )
        return checked

    @field_validator("url")
    @classmethod
    def _url_is_https_and_not_obviously_private(cls, value: str) -> str:
        outbound_checks.check_url_form(value, "url")
        return value

    @field_validator("json_path")
    @classmethod
    def _json_path_is_rfc9535(cls, value: str) -> str:
        try:
            return validate_jsonpath(value)
        except ValueParseError as exc:
            raise PydanticCustomError("json_path", str(exc)) from None

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


def _checked_header_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise PydanticCustomError("headers", "a header name is empty")
    shown = name[:MAX_HEADER_NAME_LENGTH].encode("ascii", "backslashreplace").decode()
    if len(name) > MAX_HEADER_NAME_LENGTH:
        raise PydanticCustomError(
            "headers", f"the header name {shown!r}… is longer than {MAX_HEADER_NAME_LENGTH}"
        )
    if not _HEADER_NAME.fullmatch(name):
        raise PydanticCustomError(
            "headers",
            f"the header name {shown!r} is not valid: letters, digits and -!#$%&'*+.^_`|~ only",
        )
    lowered = name.lower()
    if lowered in _REFUSED_HEADERS or lowered.startswith("proxy-"):
        raise PydanticCustomError(
            "headers", f"the header {name} cannot be set: the client sets it for each request"
        )
    return name


@dataclass(frozen=True)
class Credentials:
    """What an https_get source sends to authenticate: a bearer token and/or headers."""

    bearer_token: str | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def credentials_text(credentials: Credentials) -> str:
    """The secret to store: the token alone (as before headers existed), or both as JSON."""
    if not credentials.headers:
        return credentials.bearer_token or ""
    document = {"bearer_token": credentials.bearer_token, "headers": credentials.headers}
    return _CREDENTIALS_PREFIX + json.dumps(document, sort_keys=True, separators=(",", ":"))


def credentials_of(secret: str | None) -> Credentials:
    """The stored secret read back; a token saved before headers existed is just the token."""
    if not secret:
        return Credentials()
    if not secret.startswith(_CREDENTIALS_PREFIX):
        return Credentials(bearer_token=secret)
    try:
        document = json.loads(secret.removeprefix(_CREDENTIALS_PREFIX))
        token = document["bearer_token"]
        headers = {str(name): str(value) for name, value in dict(document["headers"]).items()}
    except (ValueError, KeyError, TypeError):
        raise PullError("the stored credentials are unreadable: enter them again") from None
    return Credentials(bearer_token=token if isinstance(token, str) else None, headers=headers)


def _hint(value: str) -> str:
    return f"…{value[-4:]}" if len(value) >= _HINTED_FROM else "(set)"


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
        outbound_checks.check_url_allowed(config.url, kind=self.kind, field="url")
        binding = super().bind(config, context=context)
        stored = {k: v for k, v in binding.config.items() if k not in ("headers", "header_hints")}
        credentials = self._credentials(config, context)
        if credentials.headers:
            stored["header_hints"] = {
                name: _hint(value) for name, value in credentials.headers.items()
            }
        text = credentials_text(credentials)
        same_kind = context.same_kind(self.kind)
        secret: SecretChange
        if same_kind and config.bearer_token is None and config.headers is None:
            secret = SecretKeep()  # nothing given: what is stored stays, readable or not
        elif not text:
            secret = SecretClear() if context.has_secret else SecretKeep()
        elif same_kind and text == context.current_secret:
            secret = SecretKeep()
        else:
            # With headers the secret is a JSON bundle: hint at the token, or at nothing.
            token = credentials.bearer_token
            hint = None if not credentials.headers else secret_hint(token) if token else ""
            secret = SecretSet(text, hint=hint)
        return Binding(config=stored, secret=secret, interval_seconds=binding.interval_seconds)

    def _credentials(self, config: HttpsGetConfig, context: BindContext) -> Credentials:
        """The token and headers after this save: given ones replace, left-out ones stay."""
        current = Credentials()
        if context.same_kind(self.kind):
            try:
                current = credentials_of(context.current_secret)
            except PullError:
                current = Credentials()  # unreadable: only what this save gives counts
        token = current.bearer_token
        if config.bearer_token is not None:
            token = config.bearer_token.get_secret_value() or None
        headers = current.headers
        if config.headers is not None:
            saved = {name.lower(): value for name, value in current.headers.items()}
            headers = {}
            for name, given in config.headers.items():
                if given is not None:
                    headers[name] = given.get_secret_value()
                elif name.lower() in saved:
                    headers[name] = saved[name.lower()]
                else:
                    raise ValidationFailed(
                        f"invalid https_get settings: headers: {name} has no saved value to "
                        "keep; give its value",
                        errors={"headers": f"{name} has no saved value to keep; give its value"},
                    )
        if token and any(name.lower() == "authorization" for name in headers):
            message = (
                "an Authorization header and a bearer token cannot both be set: remove "
                'one (send "bearer_token": "" to remove the token)'
            )
            raise ValidationFailed(
                f"invalid https_get settings: headers: {message}", errors={"headers": message}
            )
        return Credentials(bearer_token=token, headers=headers)

    def form_fields(self, **kwargs: Any) -> list[ConfigField]:
        # Headers are a name -> value map: set through the API (docs/connectors.md); a save
        # of this form leaves them out, which keeps the saved ones.
        return [
            entry
            for entry in super().form_fields(**kwargs)
            if entry.name not in ("headers", "header_hints")
        ]

    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        config = self.stored_config(
            {k: v for k, v in context.config.items() if k != "header_hints"}
        )
        credentials = credentials_of(context.secret)
        result = await outbound_checks.guarded_get(
            session,
            config.url,
            headers=outbound_checks.json_request_headers(
                credentials.bearer_token, credentials.headers
            ),
            origin_bound=credentials.headers.keys(),
        )
        try:
            document = parse_json_body(result.body)
            return Observation(value=parse_number(extract_jsonpath(document, config.json_path)))
        except ValueParseError as exc:
            raise PullError(str(exc)) from None

    def config_details(self, state: SourceState) -> list[tuple[str, str]]:
        details = text_details(
            state.config, ("url", "URL", _shown_url), ("json_path", "JSONPath", str)
        )
        if state.secret_hint:
            details.append(("Bearer token", f"…{state.secret_hint}"))
        hints = state.config.get("header_hints")
        if isinstance(hints, dict) and hints:
            shown = ", ".join(f"{name} {hint}" for name, hint in hints.items())
            details.append(("Headers", shown))
        return details
