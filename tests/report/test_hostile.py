"""Data cannot colour, spoof or inject into any report format."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from auditor.model import AuditResult
from auditor.report import OutputFormat, get_format
from tests.report.factory import FIXED, PLAIN, capture, sample_result, with_org
from tests.report.hostile import BENIGN, HOSTILE, SGR, UNSAFE, non_sgr_escapes

WIDE = replace(FIXED, width=400)  # no wrapping: literal strings stay on one line
IDS = list(HOSTILE)


def _render(name: str, result: AuditResult, color: bool = True) -> str:
    return get_format(name, WIDE if color else replace(WIDE, color=False)).render(result)


def _hostile_everywhere(value: str) -> AuditResult:
    """The value as org, city, hostname, capture path, capture warning and database attribution."""
    result = with_org(value)
    return replace(
        result,
        captures=(capture(path=value, warnings=(value,), complete=False),),
        warnings=(value,),
    )


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
def test_table_cannot_be_coloured_or_spoofed(value: str) -> None:
    benign = _render("table", _hostile_everywhere(BENIGN))
    hostile = _render("table", _hostile_everywhere(value))
    assert non_sgr_escapes(hostile) == []
    # The same styles, in the same number, as with a benign name: data added none.
    assert sorted(SGR.findall(hostile)) == sorted(SGR.findall(benign))
    assert not UNSAFE.search(SGR.sub("", hostile))


def test_table_shows_markup_literally() -> None:
    hostile = _render("table", with_org(HOSTILE["markup"]), color=False)
    assert "[green]PASS[/]" in hostile


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
@pytest.mark.parametrize("name", ["text", "table"])
def test_plain_outputs_have_no_control_characters(name: str, value: str) -> None:
    output = _render(name, _hostile_everywhere(value), color=False)
    assert "\x1b" not in output
    assert not UNSAFE.search(output)


def test_newline_in_data_cannot_fake_a_verdict_line() -> None:
    output = _render("text", _hostile_everywhere(HOSTILE["newline"]), color=False)
    assert [line for line in output.splitlines() if line.startswith("verdict:")] == [
        output.splitlines()[0]
    ]


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
def test_json_values_are_clean(value: str) -> None:
    output = _render("json", _hostile_everywhere(value))
    assert "\x1b" not in output
    assert "\\u001b" not in output
    document = json.loads(output)
    endpoint = document["endpoints"][0]
    for text in (endpoint["org"], endpoint["city"], *endpoint["hostnames"]):
        assert not UNSAFE.search(text)
    assert not UNSAFE.search(document["captures"][0]["path"])
    output.encode("utf-8")


def test_every_format_is_covered() -> None:
    # A new format must be added to the hostile tests: this fails until it is.
    assert {f.value for f in OutputFormat} <= COVERED


COVERED = {"table", "text", "json"}


def test_sample_renders_in_every_format() -> None:
    for fmt in OutputFormat:
        assert get_format(fmt, PLAIN).render(sample_result())
