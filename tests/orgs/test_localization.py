"""An org's locale and time zone: canonical forms, every odd input a clear rejection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from babel.localedata import locale_identifiers
from hypothesis import given
from hypothesis import strategies as st

from pulseboard.indicators.formatting import format_value
from pulseboard.orgs.localization import (
    COMMON_LOCALES,
    SettingInvalid,
    locale_canonical,
    locale_label,
    timezone_canonical,
    timezone_names,
    zone_of,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("de_DE", "de_DE"),
        ("de-DE", "de_DE"),
        ("de_de", "de_DE"),
        ("EN-us", "en_US"),
        ("  fr ", "fr"),
        ("sr-Latn-RS", "sr_Latn_RS"),
        ("zh_CN", "zh_Hans_CN"),
        ("en_001", "en_001"),
    ],
)
def test_a_locale_is_stored_in_babels_canonical_form(typed: str, stored: str) -> None:
    assert locale_canonical(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "xx",
        "zz_ZZ",
        "de_XX",
        "klingon",
        "../etc",
        "de_DE/../../x",
        "de\x00",
        "de_DE.UTF-8",
        "de_DE@euro",
        "de__DE",
        "_de",
        "a" * 21,
        "a" * 5000,
        "de DE",
        "dé",
        None,
        5,
        ["de"],
    ],
)
def test_anything_but_a_known_locale_is_rejected_with_a_message(typed: object) -> None:
    with pytest.raises(SettingInvalid) as caught:
        locale_canonical(typed)
    assert "locale" in caught.value.message and len(caught.value.message) < 200


@given(st.text(max_size=80))
def test_no_text_makes_the_locale_check_raise_anything_else(typed: str) -> None:
    try:
        stored = locale_canonical(typed)
    except SettingInvalid:
        return
    assert locale_canonical(stored) == stored


def test_every_babel_locale_is_accepted_and_formats_values() -> None:
    for tag in locale_identifiers():
        stored = locale_canonical(tag)
        assert format_value(1234.5, unit_type="currency", unit_label="EUR", locale=stored)


def test_the_suggested_locales_are_canonical_and_named() -> None:
    assert all(locale_canonical(tag) == tag for tag in COMMON_LOCALES)
    assert locale_label("de_DE") == "German (Germany)"
    assert locale_label("not a locale") == "not a locale"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        (" America/New_York ", "America/New_York"),
        ("utc", "UTC"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_a_time_zone_is_stored_in_its_iana_spelling(typed: str, stored: str) -> None:
    assert timezone_canonical(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "Mars/Olympus_Mons",
        "../etc",
        "../../etc/passwd",
        "/etc/passwd",
        "Europe/Berlin/",
        "Europe//Berlin",
        "Europe/Berlin\x00",
        "\x00",
        "localtime",
        "Factory",
        "posixrules",
        "Europe/" + "x" * 60,
        "x" * 100_000,
        "CET;DROP",
        None,
        3.5,
    ],
)
def test_anything_but_an_iana_zone_is_rejected_with_a_message(typed: object) -> None:
    with pytest.raises(SettingInvalid) as caught:
        timezone_canonical(typed)
    assert "time zone" in caught.value.message and len(caught.value.message) < 200


@given(st.text(max_size=80))
def test_no_text_makes_the_time_zone_check_raise_anything_else(typed: str) -> None:
    try:
        stored = timezone_canonical(typed)
    except SettingInvalid:
        return
    assert timezone_canonical(stored) == stored


def test_every_offered_zone_is_accepted() -> None:
    names = timezone_names()
    assert "UTC" in names and "Europe/Berlin" in names and "localtime" not in names
    assert all(timezone_canonical(name) == name for name in names)


def test_a_stored_zone_this_server_cannot_load_reads_as_utc() -> None:
    moment = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)
    assert moment.astimezone(zone_of("America/New_York")).hour == 22
    assert zone_of("UTC") is UTC
    assert zone_of("Nowhere/Atlantis") is UTC
    assert zone_of("../etc") is UTC
