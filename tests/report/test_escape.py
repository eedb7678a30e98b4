"""The one escaping module."""

from __future__ import annotations

import pytest
from rich.console import Console

from auditor.report import escape
from tests.report.hostile import HOSTILE, UNSAFE


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_clean_leaves_nothing_unsafe(value: str) -> None:
    cleaned = escape.clean(value)
    assert not UNSAFE.search(cleaned)
    assert escape.clean(cleaned) == cleaned  # nothing left that cleaning would change
    cleaned.encode("utf-8")  # surrogates are gone: any sink can encode it


def test_clean_shows_controls_visibly() -> None:
    assert escape.clean("\x1b[32m") == "\\x1b[32m"
    assert escape.clean("a\rb") == "a\\x0db"
    assert escape.clean("\u202eabc") == "\\u202eabc"
    assert escape.clean("\x9b") == "\\x9b"


def test_clean_keeps_ordinary_text() -> None:
    for text in ("Zoom Video Communications, Inc.", "Zürich", "東京", "São Paulo", "[x]"):
        assert escape.clean(text) == text


def test_clean_limit() -> None:
    assert escape.clean("abcdef", limit=4) == "abc…"
    assert escape.clean("abc", limit=4) == "abc"


def test_terminal_text_is_never_markup() -> None:
    console = Console(force_terminal=True, color_system="standard", width=80, _environ={})
    with console.capture() as captured:
        console.print(escape.terminal_text("[green]PASS[/]"))
    assert "[green]PASS[/]" in captured.get()
    assert "\x1b[32m" not in captured.get()


def test_rich_markup_round_trips() -> None:
    console = Console(width=80, _environ={})
    with console.capture() as captured:
        console.print(escape.rich_markup("[green]PASS[/]"))
    assert captured.get().strip() == "[green]PASS[/]"


def test_html_text() -> None:
    assert escape.html_text('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_formula_guard(value: str) -> None:
    assert escape.csv_cell(value).startswith("'")


def test_csv_plain_cell_unchanged() -> None:
    assert escape.csv_cell("Google LLC") == "Google LLC"
