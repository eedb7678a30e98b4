"""Data cannot colour, spoof or inject into any report format."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

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


COVERED = {"table", "text", "json", "csv", "junit", "sarif", "html", "markdown"}


def _markdown_html(value: str) -> str:
    """The Markdown report as a ticket system shows it: rendered by markdown-it (CommonMark
    with tables, the parser rich itself uses)."""
    from markdown_it import MarkdownIt

    rendered: str = MarkdownIt("commonmark").enable("table").render(
        _render("markdown", _hostile_everywhere(value)))
    return rendered


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
def test_markdown_cannot_add_markup_links_or_table_cells(value: str) -> None:
    benign, hostile = _Tags(), _Tags()
    benign.feed(_markdown_html(BENIGN))
    hostile.feed(_markdown_html(value))
    # The same elements as with a benign name: no link, image, raw HTML or extra cell.
    assert [tag for tag, _ in hostile.tags] == [tag for tag, _ in benign.tags]
    assert not UNSAFE.search(_render("markdown", _hostile_everywhere(value)).replace("\n", ""))


def test_sample_renders_in_every_format() -> None:
    for fmt in OutputFormat:
        assert get_format(fmt, PLAIN).render(sample_result())


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
def test_csv_cells_cannot_run_formulas(value: str) -> None:
    output = _render("csv", _hostile_everywhere(value))
    assert not UNSAFE.search(output.replace("\n", ""))
    rows = list(csv.reader(output.splitlines()))
    endpoints = [row for row in rows[1:] if row[0]]
    assert len(endpoints) == 1
    for row in rows[1:]:  # the endpoint, then notices (warnings quoting the hostile text)
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
def test_sarif_strings_are_clean(value: str) -> None:
    document = json.loads(_render("sarif", _hostile_everywhere(value)))
    for text in _strings(document):
        assert not UNSAFE.search(text), text
    for artifact in document["runs"][0]["artifacts"]:
        assert " " not in artifact["location"]["uri"]
        assert "<" not in artifact["location"]["uri"]


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
def test_junit_is_well_formed_and_clean(value: str) -> None:
    output = _render("junit", _hostile_everywhere(value))
    root = ET.fromstring(output)  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    assert "<script" not in output
    for element in root.iter():
        for text in (element.text or "", *element.attrib.values()):
            assert not UNSAFE.search(text.replace("\n", ""))


ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "h3",
    "p",
    "span",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "br",
    "ul",
    "li",
    "footer",
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
def test_html_cannot_inject_markup(value: str) -> None:
    benign = _Tags()
    benign.feed(_render("html", _hostile_everywhere(BENIGN)))
    hostile_output = _render("html", _hostile_everywhere(value))
    hostile = _Tags()
    hostile.feed(hostile_output)
    # The same elements and attributes as with a benign name: data added none.
    assert hostile.tags == benign.tags
    assert {tag for tag, _ in hostile.tags} <= ALLOWED_TAGS
    for _, attrs in hostile.tags:
        for name, _ in attrs:
            assert name in {"lang", "charset", "http-equiv", "content", "name", "class"}
    assert not UNSAFE.search(hostile_output.replace("\n", ""))


@pytest.mark.parametrize("value", HOSTILE.values(), ids=IDS)
@pytest.mark.parametrize("width", [60, 100])
def test_narrow_table_layouts_cannot_be_coloured(width: int, value: str) -> None:
    options = replace(FIXED, width=width)
    benign = get_format("table", options).render(_hostile_everywhere(BENIGN))
    hostile = get_format("table", options).render(_hostile_everywhere(value))
    assert non_sgr_escapes(hostile) == []
    # Wrapping may repeat a style across lines, but data can bring no style of its own.
    assert set(SGR.findall(hostile)) <= set(SGR.findall(benign))
    assert not UNSAFE.search(SGR.sub("", hostile))
