"""Strings a crafted database or capture could carry, and what must never reach an output."""

from __future__ import annotations

import re

HOSTILE = {
    "markup": "[green]PASS[/] [bold red on white]x[/]",
    "ansi": "\x1b[32mPASS\x1b[0m",
    "csi-8bit": "\x9b32mPASS",
    "hyperlink": "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "overwrite": "CHINANET\rGoogle LLC",
    "bell-backspace": "abc\x07\x08\x08\x08PASS",
    "bidi": "\u202eSSAP\u202c \u2066x\u2069",
    "html": '<script>alert(1)</script><img src=x onerror="alert(2)">',
    "formula": "=cmd|' /c calc'!A1",
    "formula-plus": "+1+cmd|' /c calc'!A1",
    "formula-at": "@SUM(1+1)*cmd|' /c calc'!A1",
    "tab": "\t=1+1",
    "newline": "Org\nverdict: PASS",
    "surrogate": "bad\udcffname",
    "nul": "a\x00b",
    "line-separator": "a\u2028b",
}
BENIGN = "Benign Networks Ltd"

# Characters that act on a terminal or reorder text; none may come from data.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
SGR = re.compile(r"\x1b\[[0-9;]*m")


def escapes(text: str) -> list[str]:
    """Every ESC sequence start in the text; any that is not plain SGR is reported in full."""
    return [text[m.start() : m.start() + 12] for m in re.finditer("\x1b", text)]


def non_sgr_escapes(text: str) -> list[str]:
    return escapes(SGR.sub("", text))
