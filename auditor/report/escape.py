"""The one place that makes untrusted strings (names, org, city, paths) safe for each output sink.

Strings from a capture (DNS names, SNI), from a database (organisation, city) and file paths are
attacker-controlled. ``clean`` first turns every control, format and surrogate character into a
visible escape (``\\x1b``, ``\\u202e``), so no sink ever receives an ESC, a carriage return or
a bidi override; the per-sink helpers then add what that sink needs on top.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported only where a terminal is written to: start-up time
    from rich.text import Text

# Unicode categories that can move the cursor, recolour a terminal, reorder text or that cannot
# be encoded: Cc (C0, DEL, C1), Cf (bidi overrides and isolates, zero-width marks, BOM),
# Cs (lone surrogates from undecodable file names), Zl/Zp (line and paragraph separators).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# OWASP CSV injection: a cell starting with one of these may be run as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

ELLIPSIS = "…"


def _visible(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _is_unsafe(char: str) -> bool:
    # ASCII printable is by far the common case: skip the category lookup for it.
    return not (" " <= char <= "~") and unicodedata.category(char) in _UNSAFE_CATEGORIES


def clean(text: str, limit: int | None = None) -> str:
    """Control, format and surrogate characters shown as visible escapes; optionally shortened."""
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + ELLIPSIS
    if text.isascii() and text.isprintable():
        return text
    return "".join(_visible(c) if _is_unsafe(c) else c for c in text)


def clean_each(texts: Sequence[str]) -> list[str]:
    """clean() of each text. A column of them (every endpoint's address) is checked at once:
    when all of it is printable ASCII, so is each text, which clean() then returns as it is."""
    joined = "".join(texts)
    if joined.isascii() and joined.isprintable():
        return list(texts)
    return [clean(text) for text in texts]


def clean_optional(text: str | None, limit: int | None = None) -> str | None:
    return None if text is None else clean(text, limit)


def sanitize_text(text: str) -> str:
    """For plain terminal lines (stderr messages): every control character made visible."""
    return clean(text)


def terminal_text(text: str, style: str = "", limit: int | None = None) -> Text:
    """A rich Text, never parsed as markup: ``[green]PASS[/]`` stays literal."""
    from rich.text import Text

    return Text(clean(text, limit), style=style)


def rich_markup(text: str, limit: int | None = None) -> str:
    """For the rare place a markup string is needed: cleaned, then markup-escaped."""
    from rich.markup import escape as rich_escape

    return rich_escape(clean(text, limit))


def html_text(text: str, limit: int | None = None) -> str:
    """Cleaned and HTML-escaped, quotes included, so it is safe in text and attributes."""
    return html.escape(clean(text, limit), quote=True)


def csv_cell(text: str) -> str:
    """Cleaned, and a leading apostrophe where a spreadsheet would take a formula (OWASP)."""
    cleaned = clean(text)
    if cleaned.startswith(_FORMULA_STARTS) or text.startswith(_FORMULA_STARTS):
        return "'" + cleaned
    return cleaned


_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]<>#|~&")


def markdown_text(text: str, limit: int | None = None) -> str:
    """Cleaned, and every character Markdown could read as markup or a table edge backslashed,
    so a hostile name can neither format a ticket nor open a link or a new table cell."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in clean(text, limit))
