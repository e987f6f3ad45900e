"""What of a source's configuration the audit log may keep: the default redaction.

Pure: no Django, no I/O. ``config_redacted`` is the default of
``Connector.redacted_config``, which ``connectors.services`` applies to every source
snapshot it audits (``source.bound``, ``source.config_changed``), so an audit event
never holds a secret, whoever reads it later (DESIGN §15). The rules, applied at every
depth of the JSON:

- a field named like a secret (``token``, ``secret``, ``password``, ``headers``,
  ``dsn``, ``credential``, ``cookie``, ``auth``, ``api_key``, a ``key`` part, …) keeps
  its name but not its value: ``"•••"``; a mapping under such a name keeps its keys
  (header names) with every value ``"•••"``; an empty value stays empty, so the log
  still tells "set" from "not set";
- any other text that is a URL (``scheme://…``) keeps its scheme, host, port and path;
  each query parameter keeps its name and loses its value (``?key=•••&units=•••``), a
  fragment becomes ``#•••``, and userinfo loses its password (``user:•••@``) or, with
  no password, itself (``•••@``), since a bare userinfo is often a token;
- everything else (numbers, JSONPaths, cell addresses, ids) is kept.

A connector whose configuration holds a secret under some other name overrides
``Connector.redacted_config`` and calls ``config_redacted`` for the rest. Paths are
kept on purpose (they say which endpoint a KPI reads); a service that puts its key in
the path should be given it as a bearer token or a header instead.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

REDACTED: Final = "•••"

# Matched against a field name, lower-cased; a false positive only hides a harmless value.
_SENSITIVE_NAME: Final = re.compile(
    r"token|secret|passw|pwd|header|dsn|credential|cookie|auth|signature|session"
    r"|api_?key|private_?key|(?:^|[_-])key(?:s)?(?:$|[_-])"
)
_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def sensitive_name(name: str) -> bool:
    """True for a field whose value must never reach the audit log."""
    return bool(_SENSITIVE_NAME.search(name.lower()))


def _query_redacted(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        if equals:
            parts.append(f"{name}={REDACTED}")
        elif part:
            # A bare "?abc123" is as likely a key as a flag: its text goes too.
            parts.append(REDACTED)
    return "&".join(parts)


def url_redacted(text: str) -> str:
    """``text`` with query values, fragment and userinfo secrets masked; other text as is."""
    if not _URL.match(text):
        return text
    try:
        split = urllib.parse.urlsplit(text)
    except ValueError:
        # Not a URL Python can take apart (a bad IPv6 literal, say): keep none of it.
        return REDACTED
    netloc = split.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{REDACTED}@{host}" if colon else f"{REDACTED}@{host}"
    return urllib.parse.urlunsplit(
        (
            split.scheme,
            netloc,
            split.path,
            _query_redacted(split.query),
            REDACTED if split.fragment else "",
        )
    )


def _masked(value: Any) -> Any:
    """The value of a sensitive field: empty stays empty, a mapping keeps its keys."""
    if value is None or value == "" or value == {} or value == []:
        return value
    if isinstance(value, Mapping):
        return {str(key): REDACTED for key in value}
    return REDACTED


def value_redacted(value: Any) -> Any:
    """A JSON value with the rules of the module docstring applied at every depth."""
    if isinstance(value, Mapping):
        return config_redacted(value)
    if isinstance(value, list | tuple):
        return [value_redacted(item) for item in value]
    if isinstance(value, str):
        return url_redacted(value)
    return value


def config_redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    """A source configuration as the audit log may keep it (see the module docstring)."""
    return {
        str(name): _masked(value) if sensitive_name(str(name)) else value_redacted(value)
        for name, value in config.items()
    }
