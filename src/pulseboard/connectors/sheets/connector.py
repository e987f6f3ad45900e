"""The Google Sheets connector: a KPI bound to one cell, read on a schedule.

Owns the binding (one of the binding admin's own Google connections, the spreadsheet
given as URL or id, the tab, one cell in A1 notation) and the pull, which reads exactly
that cell with ``spreadsheets.values.get`` on ``'Tab'!B12`` and parses the cell's
displayed text like https_get values. No database here: ``bind`` checks the connection
against the binding user's own connections listed in its ``BindContext``, and ``pull``
reads with the live access token its ``PullContext`` carries (``services`` loads and, when
needed, refreshes it before the pull starts). A token Google ends before its announced
expiry raises ``CredentialRejected``, so the pull is prepared once more with a fresh
token and retried. Every failure becomes a pull error that says what to fix. The parse
functions are pure.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar, Final

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from pulseboard.connectors.base import (
    BindContext,
    Binding,
    ConfigField,
    CredentialRejected,
    Observation,
    PullConfig,
    PullConnector,
    PullContext,
    PullError,
    SecretClear,
    SourceState,
    text_details,
)
from pulseboard.connectors.sheets.oauth import google_settings
from pulseboard.connectors.values import ValueParseError, parse_number
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.safe_http import FetchError, SafeSession, UnsafeURLError

MAX_TAB_LENGTH: Final = 100
MAX_ROW: Final = 10_000_000
SHEETS_HOSTS: Final = frozenset({"docs.google.com", "sheets.google.com"})
_ID: Final = re.compile(r"[A-Za-z0-9_-]{20,128}")
_ID_IN_PATH: Final = re.compile(
    r"(?:/a/[^/]+)?/spreadsheets(?:/u/[0-9]+)?/d/(?P<published>e/)?(?P<id>[A-Za-z0-9_-]+)"
)
_CELL: Final = re.compile(r"\$?(?P<column>[A-Za-z]{1,3})\$?(?P<row>[0-9]{1,9})")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")

REVOKED: Final = "the Google connection was revoked — reconnect under Profile → Connections"
DISCONNECTED: Final = (
    "the Google connection was disconnected — an admin must bind this KPI to one of "
    "their own connections (Profile → Connections)"
)
OWNER_LEFT: Final = (
    "the Google connection belongs to someone who is no longer a member of this "
    "organization — an admin must bind this KPI to one of their own connections"
)
NOT_A_PERSON: Final = (
    "a Google Sheets source is bound by the admin whose Google connection it reads "
    "through, signed in to the web app; API tokens and the CLI have no Google account"
)
NO_CONNECTION_YET: Final = (
    "You have no Google connection in this organization yet: connect one under "
    "Profile → Connections first."
)
NOT_YOURS: Final = (
    "not one of your Google connections in this organization: connect one under "
    "Profile → Connections"
)


class SheetsBindingError(ValueError):
    """A binding field that cannot work; the message names the field's problem."""


# --- pure: binding fields -----------------------------------------------------------------


def spreadsheet_id_parse(text: object) -> str:
    """The spreadsheet id in a pasted URL (docs.google.com/spreadsheets/d/<id>/...) or id."""
    if not isinstance(text, str) or not text.strip():
        raise SheetsBindingError("paste the spreadsheet's URL or its id")
    raw = text.strip()
    if _ID.fullmatch(raw):
        return raw
    candidate = raw if "://" in raw else f"https://{raw}"
    try:
        split = urllib.parse.urlsplit(candidate)
        host = (split.hostname or "").lower()
    except ValueError:
        raise SheetsBindingError("not a spreadsheet URL or id") from None
    if host not in SHEETS_HOSTS:
        raise SheetsBindingError(
            "not a Google Sheets URL: open the spreadsheet and copy the address "
            "(https://docs.google.com/spreadsheets/d/…), or paste just its id"
        )
    match = _ID_IN_PATH.match(split.path)
    if match is None:
        raise SheetsBindingError("this Google URL names no spreadsheet (…/spreadsheets/d/<id>/…)")
    if match["published"]:
        raise SheetsBindingError(
            "this is a 'Publish to the web' link, which the Sheets API cannot read: "
            "copy the spreadsheet's own address from the browser instead"
        )
    if not _ID.fullmatch(match["id"]):
        raise SheetsBindingError("the spreadsheet id in this URL is not valid")
    return match["id"]


def tab_parse(text: object) -> str:
    """A tab (sheet) name as shown on the tab, surrounding spaces dropped."""
    if not isinstance(text, str) or not text.strip():
        raise SheetsBindingError("give the tab's name as shown at the bottom of the sheet")
    name = text.strip()
    if len(name) > MAX_TAB_LENGTH:
        raise SheetsBindingError(f"a tab name has at most {MAX_TAB_LENGTH} characters")
    if _CONTROL.search(name):
        raise SheetsBindingError("the tab name contains control characters")
    return name


def cell_parse(text: object) -> str:
    """One cell in A1 notation, normalised (``b12``, ``$B$12`` -> ``B12``); ranges refused."""
    if not isinstance(text, str) or not text.strip():
        raise SheetsBindingError("give one cell in A1 notation, e.g. B12")
    raw = text.strip()
    if "!" in raw:
        raise SheetsBindingError("give only the cell here (e.g. B12); the tab has its own field")
    if ":" in raw:
        raise SheetsBindingError(f"{raw!r} is a range; give a single cell, e.g. B12")
    match = _CELL.fullmatch(raw)
    if match is None:
        raise SheetsBindingError(
            f"{raw[:20]!r} is not a cell in A1 notation: column letters then a row number, "
            "e.g. B12 or AA100"
        )
    row = int(match["row"])
    if row == 0:
        raise SheetsBindingError("rows are numbered from 1")
    if row > MAX_ROW:
        raise SheetsBindingError(f"row {row} is beyond the last row a Google sheet can have")
    return f"{match['column'].upper()}{row}"


def a1_range(tab: str, cell: str) -> str:
    """``'Tab'!B12``: the tab always quoted, a quote inside it doubled (Sheets' A1 rules)."""
    return "'" + tab.replace("'", "''") + "'!" + cell


def values_get_url(sheets_url: str, spreadsheet_id: str, tab: str, cell: str) -> str:
    """The ``spreadsheets.values.get`` URL for one cell, as displayed in the sheet."""
    quoted_id = urllib.parse.quote(spreadsheet_id, safe="")
    quoted_range = urllib.parse.quote(a1_range(tab, cell), safe="")
    # FORMATTED_VALUE: the text the sheet shows ("99.9%", "$1,234"), parsed like an
    # https_get value; the unformatted value of "99.9%" would be 0.999.
    return (
        f"{sheets_url.rstrip('/')}/v4/spreadsheets/{quoted_id}/values/{quoted_range}"
        "?valueRenderOption=FORMATTED_VALUE&majorDimension=ROWS"
    )


def cell_value(body: bytes, *, tab: str, cell: str) -> float:
    """The number in a ``values.get`` answer for one cell, or ``ValueParseError``."""
    where = a1_range(tab, cell)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeError):
        raise ValueParseError("Google Sheets answered with something that is not JSON") from None
    if not isinstance(document, dict):
        raise ValueParseError("Google Sheets answered with an unexpected document")
    rows = document.get("values")
    if rows is None or rows == [] or rows == [[]]:
        raise ValueParseError(f"cell {where} is empty")
    if not isinstance(rows, list) or not isinstance(rows[0], list) or not rows[0]:
        raise ValueParseError("Google Sheets answered with an unexpected document")
    raw = rows[0][0]
    if isinstance(raw, str) and not raw.strip():
        raise ValueParseError(f"cell {where} is empty")
    return parse_number(raw)


# --- the connector ------------------------------------------------------------------------


def _custom(parse: Callable[[object], str], value: str, field: str) -> str:
    try:
        return parse(value)
    except SheetsBindingError as exc:
        raise PydanticCustomError(field, str(exc)) from None


class SheetsConfig(PullConfig):
    connection_id: str = Field(
        title="Google connection",
        description="One of your own Google accounts (Profile → Connections).",
        max_length=32,
        json_schema_extra={"widget": "select"},
    )
    spreadsheet: str = Field(
        title="Spreadsheet",
        description="Paste the spreadsheet's address (docs.google.com/spreadsheets/d/…) or its id.",
        max_length=2048,
    )
    tab: str = Field(
        title="Tab",
        description="The tab's name as shown at the bottom of the sheet, e.g. Sheet1.",
        max_length=MAX_TAB_LENGTH * 2,
    )
    cell: str = Field(
        title="Cell",
        description="One cell in A1 notation, e.g. B12.",
        max_length=24,
    )

    @field_validator("spreadsheet")
    @classmethod
    def _spreadsheet_id(cls, value: str) -> str:
        return _custom(spreadsheet_id_parse, value, "spreadsheet")

    @field_validator("tab")
    @classmethod
    def _tab(cls, value: str) -> str:
        return _custom(tab_parse, value, "tab")

    @field_validator("cell")
    @classmethod
    def _cell(cls, value: str) -> str:
        return _custom(cell_parse, value, "cell")


def _sheets_error(exc: FetchError, *, account: str, where: str, tab: str) -> str:
    status = exc.status
    account = account or "the connected Google account"
    if status == 403:
        return (
            f"Google refused access to the spreadsheet (HTTP 403): share it with {account}, "
            "and check that the Google Sheets API is enabled in the OAuth client's project"
        )
    if status == 404:
        return (
            "the spreadsheet was not found (HTTP 404): check its URL or id; it may have "
            "been deleted"
        )
    if status == 400:
        return f"Google could not read {where} (HTTP 400): check that the tab {tab!r} exists"
    if status == 429:
        return "Google's Sheets quota was exceeded (HTTP 429); the next pull tries again"
    if status is not None:
        return f"Google Sheets answered HTTP {status}; the next pull tries again"
    return f"could not reach Google Sheets: {exc}"


class SheetsConnector(PullConnector[SheetsConfig]):
    kind: ClassVar[str] = "sheets"
    label: ClassVar[str] = "Google Sheets"
    summary: ClassVar[str] = "Read one cell of a Google spreadsheet on a schedule."
    config_model = SheetsConfig

    def bind(self, config: SheetsConfig, *, context: BindContext) -> Binding:
        # Only the binding admin's own connection: nobody, other admins included, may
        # point someone else's Google account at a spreadsheet.
        if context.user_id is None:
            raise ValidationFailed(
                f"invalid sheets settings: {NOT_A_PERSON}", errors={"connection_id": NOT_A_PERSON}
            )
        if config.connection_id not in {pk for pk, _ in context.connections}:
            raise ValidationFailed(
                f"invalid sheets settings: connection_id: {NOT_YOURS}",
                errors={"connection_id": NOT_YOURS},
            )
        base = super().bind(config, context=context)
        return Binding(
            config=base.config,
            secret=SecretClear(),
            connection_id=config.connection_id,
            interval_seconds=base.interval_seconds,
        )

    def form_fields(
        self,
        *,
        org_id: int,
        user_id: int | None,
        connections: tuple[tuple[str, str], ...] = (),
    ) -> list[ConfigField]:
        """The connection input offers the form user's own connections, and no one else's."""
        fields = super().form_fields(org_id=org_id, user_id=user_id, connections=connections)
        return [
            replace(
                field,
                choices=connections,
                help=field.help if connections else NO_CONNECTION_YET,
            )
            if field.name == "connection_id"
            else field
            for field in fields
        ]

    async def pull(self, context: PullContext, session: SafeSession) -> Observation:
        config = self.stored_config(context.config)
        access = context.connection
        if access is None:
            raise PullError(DISCONNECTED)
        where = a1_range(config.tab, config.cell)
        url = values_get_url(
            google_settings().sheets_url, config.spreadsheet, config.tab, config.cell
        )
        try:
            result = await session.get(
                url,
                headers={
                    "Authorization": f"Bearer {access.access_token}",
                    "Accept": "application/json",
                },
            )
        except UnsafeURLError as exc:
            raise PullError(f"the Google Sheets URL is not allowed: {exc.reason}") from None
        except FetchError as exc:
            if exc.status == 401 and not access.refreshed:
                # Google may end an access token before its announced expiry: the pull is
                # prepared once more, with a token refreshed for it, and retried.
                raise CredentialRejected(REVOKED) from None
            if exc.status == 401:
                raise PullError(REVOKED) from None
            raise PullError(
                _sheets_error(exc, account=access.account, where=where, tab=config.tab)
            ) from None
        try:
            return Observation(value=cell_value(result.body, tab=config.tab, cell=config.cell))
        except ValueParseError as exc:
            raise PullError(str(exc)) from None

    def config_details(self, state: SourceState) -> list[tuple[str, str]]:
        details = text_details(state.config, ("spreadsheet", "Spreadsheet", str))
        tab, cell = state.config.get("tab"), state.config.get("cell")
        if isinstance(tab, str) and isinstance(cell, str):
            details.append(("Cell", a1_range(tab, cell)))
        return details
