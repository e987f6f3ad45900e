"""Badges and tile images of a KPI as standalone SVG documents, for share links (DESIGN §12).

A badge is one line: the KPI's title on grey, then its value and status word on
the status colour (the word is there, so colour is never the only cue). A tile is
a small card: title, value, status, target phrase, change and the sparkline of
``charts.sparkline``. Both are embedded where Pulseboard does not control the page
(README, wiki, chat unfurls), so they carry their colours and fonts themselves and
reference nothing outside the document: no script, no link, no external image or
font. Every text is cleaned of characters XML 1.0 cannot hold, shortened to fit,
and escaped. White text on each status colour has a contrast of at least 4.5:1.

Pure: no Django, no I/O; every function is total (any text, no history).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from html import escape

from pulseboard.web.charts import sparkline

# The product's status colours (pulseboard.css); white text on each passes WCAG AA.
STATUS_COLOURS = {
    "green": "#17743f",
    "yellow": "#9a6200",
    "red": "#c2281f",
    "unknown": "#5f6775",
}
LABEL_COLOUR = "#555555"
INK, MUTED, BORDER = "#1f2328", "#57606a", "#d0d7de"
FONT = "Verdana,DejaVu Sans,Geneva,sans-serif"
BADGE_HEIGHT, BADGE_FONT, BADGE_PAD = 20, 11, 6
TILE_WIDTH, TILE_HEIGHT, TILE_PAD = 360, 190, 16
MAX_BADGE_TITLE = 40
MAX_TILE_LINE = 46
SVG_NS = "http://www.w3.org/2000/svg"


def _xml_char(char: str) -> bool:
    code = ord(char)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def clean_text(text: object, limit: int) -> str:
    """Text safe for an XML document: one line, only XML 1.0 characters, at most ``limit``."""
    raw = text if isinstance(text, str) else str(text)
    kept = "".join(c if _xml_char(c) else "" for c in raw)
    line = " ".join(kept.split())
    if len(line) > limit:
        line = line[: max(0, limit - 1)].rstrip() + "…"
    return line


def _char_width(char: str) -> float:
    """Approximate advance of one character, in ems of a Verdana-like font."""
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    if char in "il.,:;|!'`ijlftr1 ()[]":
        return 0.36
    if char in "mwMW@%":
        return 0.9
    if char.isupper() or char.isdigit():
        return 0.68
    return 0.6


def text_width(text: str, size: float) -> float:
    """The width the text is drawn at (``textLength`` holds the font to it)."""
    return round(sum(_char_width(c) for c in text) * size, 1)


def fit_text(text: str, size: float, max_width: float) -> str:
    """``text`` shortened (with "…") until it is drawn no wider than ``max_width``."""
    if text_width(text, size) <= max_width:
        return text
    while text and text_width(text + "…", size) > max_width:
        text = text[:-1]
    return text.rstrip() + "…" if text else ""


def _text(x: float, y: float, text: str, size: float, **attrs: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in attrs.items())
    width = text_width(text, size)
    fit = f' textLength="{width}" lengthAdjust="spacingAndGlyphs"' if width > 0 else ""
    return f'<text x="{x}" y="{y}" font-size="{size}"{fit}{extra}>{escape(text)}</text>'


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, STATUS_COLOURS["unknown"])


def badge_svg(*, title: str, value: str, status: str, status_word: str) -> str:
    """A one-line badge: "<title> | <value> · <status word>", the right part in status colour."""
    label = clean_text(title, MAX_BADGE_TITLE) or "KPI"
    message = " · ".join(p for p in (clean_text(value, 30), clean_text(status_word, 20)) if p)
    left = text_width(label, BADGE_FONT) + 2 * BADGE_PAD
    right = text_width(message, BADGE_FONT) + 2 * BADGE_PAD
    width = round(left + right, 1)
    spoken = escape(f"{label}: {message}")
    baseline = 14
    return (
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{BADGE_HEIGHT}" '
        f'viewBox="0 0 {width} {BADGE_HEIGHT}" role="img" aria-label="{spoken}">'
        f"<title>{spoken}</title>"
        f'<rect width="{left}" height="{BADGE_HEIGHT}" rx="3" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="{BADGE_HEIGHT}" fill="{status_colour(status)}"/>'
        f'<g fill="#ffffff" font-family="{FONT}">'
        + _text(BADGE_PAD, baseline, label, BADGE_FONT)
        + _text(round(left + BADGE_PAD, 1), baseline, message, BADGE_FONT)
        + "</g></svg>"
    )


def tile_svg(
    *,
    title: str,
    value: str,
    status: str,
    status_word: str,
    target_phrase: str,
    change_text: str,
    points: Sequence[tuple[date | datetime, float]],
) -> str:
    """A card of one KPI with its sparkline (empty space where there is no history yet)."""
    colour = status_colour(status)
    inner = TILE_WIDTH - 2 * TILE_PAD
    name = fit_text(clean_text(title, MAX_TILE_LINE) or "KPI", 14, inner)
    shown = fit_text(clean_text(value, 24) or "—", 30, inner)
    word = fit_text(clean_text(status_word, 20), 12, inner - 16)
    target = fit_text(clean_text(target_phrase, MAX_TILE_LINE), 12, inner)
    change = fit_text(clean_text(change_text, MAX_TILE_LINE), 12, inner)
    spoken = escape(f"{name}: {shown}, {word}" + (f", {target}" if target else ""))
    pill = text_width(word, 12) + 16
    spark = sparkline(points, label=f"{name}: recent history", width=inner, height=36)
    # charts.sparkline draws with class names; this document brings its own rules for them.
    style = (
        f".spark-line{{fill:none;stroke:{colour};stroke-width:2}}"
        f".spark-area{{fill:{colour};fill-opacity:.12;stroke:none}}"
        f".spark-dot{{fill:none;stroke:{colour};stroke-width:7;stroke-linecap:round}}"
    )
    parts = [
        f'<svg xmlns="{SVG_NS}" width="{TILE_WIDTH}" height="{TILE_HEIGHT}" '
        f'viewBox="0 0 {TILE_WIDTH} {TILE_HEIGHT}" role="img" aria-label="{spoken}">',
        f"<title>{spoken}</title>",
        f"<style>{style}</style>",
        f'<rect x="0.5" y="0.5" width="{TILE_WIDTH - 1}" height="{TILE_HEIGHT - 1}" rx="10" '
        f'fill="#ffffff" stroke="{BORDER}"/>',
        f'<rect x="0" y="0" width="6" height="{TILE_HEIGHT}" rx="3" fill="{colour}"/>',
        f'<g font-family="{FONT}" fill="{INK}">',
        _text(TILE_PAD, 30, name, 14, font_weight="bold"),
        _text(TILE_PAD, 72, shown, 30, font_weight="bold"),
        f'<rect x="{TILE_PAD}" y="84" width="{pill}" height="22" rx="11" fill="{colour}"/>',
        _text(TILE_PAD + 8, 99, word, 12, fill="#ffffff", font_weight="bold"),
    ]
    if target:
        parts.append(_text(TILE_PAD, 126, target, 12, fill=MUTED))
    if change:
        parts.append(_text(TILE_PAD, 144, change, 12, fill=MUTED))
    parts.append("</g>")
    if spark:
        parts.append(f'<svg x="{TILE_PAD}" y="148" width="{inner}" height="36">{spark}</svg>')
    parts.append("</svg>")
    return "".join(parts)
