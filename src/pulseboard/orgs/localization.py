"""An organization's locale and time zone (DESIGN §4, §15): what is accepted, in canonical form.

``locale_canonical`` turns what an admin typed ("de-DE", "de_de", " fr ") into Babel's
canonical id ("de_DE", "fr") or raises ``SettingInvalid`` with a message that says what to
type; ``timezone_canonical`` does the same for IANA time zone names ("europe/berlin" ->
"Europe/Berlin"). ``zone_of`` is the ``tzinfo`` of a stored name, UTC for one this server
cannot load. No Django; the only outside data read is Babel's CLDR files and the system's
time zone database.

Decisions:
- Every failure of Babel or zoneinfo on odd input (``ValueError``, ``TypeError``,
  ``UnknownLocaleError``, ``ZoneInfoNotFoundError``, ``OSError`` from an over-long file
  name) is a rejection, never an exception that escapes. Input is first limited to a short
  string of the characters an id or a zone name can hold, so no path, NUL byte or
  multi-kilobyte text ever reaches a file lookup.
- A locale is accepted with "-" or "_" and in any case ("en-us"), since BCP 47 tags
  are what people copy from browsers; it is stored as Babel prints it.
- Time zone names come from the system's database (``zoneinfo.available_timezones``),
  matched without regard to case and stored in their canonical spelling. ``localtime``
  (whatever zone the host is set to), ``Factory`` and ``posixrules`` are not places
  and are refused. ``UTC`` is always accepted, even on a host without a database.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError

DEFAULT_LOCALE = "en_US"
DEFAULT_TIMEZONE = "UTC"
MAX_LOCALE = 20  # Organization.locale's column
MAX_TIMEZONE = 60  # Organization.timezone's column
MAX_NAME = 120  # Organization.name's column
# Letters, digits and separators: "de_DE", "sr_Latn_RS", "en_001", "de-CH".
_LOCALE_TEXT = re.compile(r"[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*")
# IANA names: "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "EST5EDT".
_ZONE_TEXT = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})
# Offered in the web form's suggestions; any other Babel locale may be typed.
COMMON_LOCALES = (
    "en_US",
    "en_GB",
    "en_AU",
    "en_CA",
    "en_IN",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "fr_CA",
    "fr_CH",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pt_PT",
    "sv_SE",
    "da_DK",
    "nb_NO",
    "fi_FI",
    "pl_PL",
    "cs_CZ",
    "tr_TR",
    "ru_RU",
    "uk_UA",
    "ja_JP",
    "ko_KR",
    "zh_Hans_CN",
    "zh_Hant_TW",
    "hi_IN",
    "ar_EG",
    "he_IL",
)
LOCALE_HINT = "a locale id such as en_US, de_DE, fr or pt_BR"
TIMEZONE_HINT = "an IANA time zone name such as Europe/Berlin, America/New_York or UTC"


class SettingInvalid(ValueError):
    """The text is not an acceptable value; ``message`` says why, for the person who typed it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def locale_canonical(raw: object) -> str:
    """Babel's canonical id of the locale ``raw`` names ("de-de" -> "de_DE")."""
    if not isinstance(raw, str) or not raw.strip():
        raise SettingInvalid(f"enter {LOCALE_HINT}")
    text = raw.strip()
    if len(text) > MAX_LOCALE or not _LOCALE_TEXT.fullmatch(text):
        raise SettingInvalid(f"“{_shown(text)}” is not {LOCALE_HINT}")
    try:
        locale = Locale.parse(text.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise SettingInvalid(
            f"“{text}” is not a locale this server knows: use {LOCALE_HINT}"
        ) from None
    canonical = str(locale)
    if len(canonical) > MAX_LOCALE:
        raise SettingInvalid(f"“{text}” is not {LOCALE_HINT}")
    return canonical


def locale_label(locale_id: str) -> str:
    """The locale's name in English ("German (Germany)"); the id itself when Babel has none."""
    try:
        return Locale.parse(locale_id).get_display_name("en") or locale_id
    except (UnknownLocaleError, ValueError, TypeError):
        return locale_id


@cache
def _zones() -> dict[str, str]:
    names = {name for name in zoneinfo.available_timezones() if name not in _NOT_PLACES}
    names.add(DEFAULT_TIMEZONE)
    return {name.lower(): name for name in names}


def timezone_names() -> list[str]:
    """Every IANA time zone name this server accepts, sorted."""
    return sorted(_zones().values())


def timezone_canonical(raw: object) -> str:
    """The canonical spelling of the IANA time zone ``raw`` names ("europe/berlin" -> ...)."""
    if not isinstance(raw, str) or not raw.strip():
        raise SettingInvalid(f"enter {TIMEZONE_HINT}")
    text = raw.strip()
    if len(text) > MAX_TIMEZONE or not _ZONE_TEXT.fullmatch(text):
        raise SettingInvalid(f"“{_shown(text)}” is not {TIMEZONE_HINT}")
    name = _zones().get(text.lower())
    if name is None or _load(name) is None:
        raise SettingInvalid(f"“{text}” is not a time zone this server knows: use {TIMEZONE_HINT}")
    return name


def zone_of(name: str) -> tzinfo:
    """The time zone a stored name stands for; UTC when this server cannot load it."""
    return _load(name) or UTC


def _load(name: str) -> tzinfo | None:
    if name == DEFAULT_TIMEZONE:
        return UTC
    if not isinstance(name, str) or len(name) > MAX_TIMEZONE or not _ZONE_TEXT.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _shown(text: str) -> str:
    """Typed text short and printable enough to quote back in a message."""
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable if len(printable) <= 40 else printable[:39] + "…"
