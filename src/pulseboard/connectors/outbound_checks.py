"""URL checks, bearer-token handling and the guarded GET shared by the HTTP pull kinds.

https_get and prometheus judge a URL the same way (static checks when the config is
read, the operator's address policy at bind, the session again on every pull), accept a
bearer token the same way (a pasted ``Bearer …`` prefix dropped, printable ASCII only)
and turn the session's refusals into the same ``PullError`` messages; this module is the
one home of those rules, so the kinds cannot drift apart.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_core import PydanticCustomError

from pulseboard.connectors.base import PullError
from pulseboard.connectors.outbound import fetch_policy
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import (
    MAX_URL_LENGTH,
    FetchError,
    FetchResult,
    SafeFetchPolicy,
    SafeSession,
    UnsafeURLError,
    check_url,
    validate_url_sync,
)

MAX_TOKEN_LENGTH: Final = 4096
# RFC 6750 b64token plus the characters real-world tokens use (JWTs, opaque keys).
_TOKEN: Final = re.compile(r"[\x21-\x7e]+")
_BEARER_PREFIX: Final = re.compile(r"bearer\s+", re.IGNORECASE)
# The static checks judge no address: that is the operator's policy, applied at bind.
_ANY_ADDRESS: Final = SafeFetchPolicy(
    allow_private=(ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))
)


def url_field(*, title: str, description: str) -> Any:
    """The URL field of a config model: one line, at most ``MAX_URL_LENGTH``, a URL input."""
    return Field(
        title=title,
        description=description,
        max_length=MAX_URL_LENGTH,
        json_schema_extra={"widget": "url"},
    )


def checked_bearer_token(value: Any) -> Any:
    """The token alone, printable ASCII, not too long."""
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


# The optional ``bearer_token`` field of a config model (kept encrypted by ``bind``).
BearerToken = Annotated[
    SecretStr | None,
    BeforeValidator(checked_bearer_token),
    Field(
        title="Bearer token",
        description=(
            "Optional. Sent as 'Authorization: Bearer …'. Stored encrypted and never shown "
            "again; leave empty to keep the saved one."
        ),
    ),
]


def check_url_form(value: str, field: str, *, allow_http: bool = False) -> None:
    """The static URL checks (scheme, userinfo, host form, reserved names) for a validator.

    Addresses, literal or resolved, are judged against the operator's policy by
    ``check_url_allowed`` at bind and by the session on every pull, so a pull names the
    refused address itself.
    """
    try:
        check_url(value, _ANY_ADDRESS, allow_http=allow_http)
    except UnsafeURLError as exc:
        raise PydanticCustomError(field, exc.reason) from None


def check_url_allowed(url: str, *, kind: str, field: str, allow_http: bool = False) -> None:
    """The URL's addresses judged by the operator's policy at bind; ``ValidationFailed`` if not."""
    try:
        validate_url_sync(url, fetch_policy(), allow_http=allow_http)
    except UnsafeURLError as exc:
        raise ValidationFailed(
            f"invalid {kind} settings: {field}: {exc.reason}", errors={field: exc.reason}
        ) from None


def json_request_headers(
    bearer_token: str | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The headers of a pull asking for JSON, with the token as ``Authorization: Bearer``."""
    headers = {"Accept": "application/json", **(extra or {})}
    if bearer_token:
        headers["Authorization"] = f"Bearer {bearer_token}"
    return headers


async def guarded_get(
    session: SafeSession,
    url: str,
    *,
    headers: Mapping[str, str],
    origin_bound: Iterable[str] = (),
    allow_http: bool = False,
    params: Mapping[str, str] | None = None,
    explain_failure: Callable[[FetchError], None] | None = None,
) -> FetchResult:
    """One GET through the session; its refusals and failures become ``PullError``.

    ``explain_failure`` may raise a more specific ``PullError`` from a failed answer's
    body (Prometheus explains a refused query in it) before the generic one is raised.
    """
    try:
        return await session.get(
            url, headers=headers, origin_bound=origin_bound, allow_http=allow_http, params=params
        )
    except UnsafeURLError as exc:
        raise PullError(f"URL refused: {exc.reason}") from None
    except FetchError as exc:
        if explain_failure is not None:
            explain_failure(exc)
        raise PullError(str(exc)) from None
