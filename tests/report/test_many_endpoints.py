"""Many endpoints: JSON, CSV and HTML are written as they are made; table and text summarise."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import replace

import pytest

from auditor.model import AuditResult, Location
from auditor.report import get_format, json_rows, table
from auditor.report.view import LISTED_ROWS
from tests.report.factory import PLAIN, endpoint, finding, sample_result

ALLOWED = 1_000  # more than LISTED_ROWS
VIOLATIONS = LISTED_ROWS + 20  # more than fit: listed whole all the same


def many() -> AuditResult:
    """Allowed endpoints, then violations (larger first) and unknowns."""
    allowed = [
        finding(endpoint(f"192.0.{i // 250}.{i % 250 + 1}", bytes=5), Location("", country="US"))
        for i in range(ALLOWED)
    ]
    violations = [
        finding(endpoint(f"198.51.{i // 250}.{i % 250 + 1}", bytes=7), Location("", country="CN"))
        for i in range(VIOLATIONS)
    ]
    unknown = [finding(endpoint("203.0.113.9"), Location("203.0.113.9"))]
    return replace(sample_result(), findings=(*allowed, *violations, *unknown))


class CountingStream(io.StringIO):
    """Counts writes, and the most endpoint rows one write held: a streamed report writes as
    it goes, never once at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.most_rows = 0

    def write(self, text: str) -> int:
        self.writes += 1
        self.most_rows = max(self.most_rows, text.count('{"ip": '))
        return super().write(text)


@pytest.mark.parametrize("name", ["csv", "html"])
def test_csv_and_html_are_written_as_they_are_made(name: str) -> None:
    result = many()
    stream = CountingStream()
    get_format(name, PLAIN).write(result, stream)
    assert stream.writes > len(result.findings)
    assert stream.getvalue() == get_format(name, PLAIN).render(result)


@pytest.mark.parametrize("chunk", [1, 16, 500])
def test_json_is_written_a_chunk_of_rows_at_a_time(
    chunk: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its endpoint rows (the capture's list, then the report's) are written a chunk at a
    time: no write holds more than one chunk of rows, and the writes grow with the rows, so
    memory holds one chunk, never the report."""
    result = many()
    whole = get_format("json", PLAIN).render(result)
    monkeypatch.setattr(json_rows, "CHUNK", chunk)
    stream = CountingStream()
    get_format("json", PLAIN).write(result, stream)
    assert 0 < stream.most_rows <= chunk
    assert stream.writes >= 2 * math.ceil(len(result.findings) / chunk)
    assert stream.getvalue() == whole


@pytest.mark.parametrize("name", ["text", "markdown", "sarif"])
def test_text_markdown_and_sarif_write_each_finding_as_it_is_made(name: str) -> None:
    """Their size grows with the violations and unknowns: never one string or list of rows."""
    result = many()
    needing = sum(1 for f in result.findings if f.judgement.verdict.value != "allowed")
    stream = CountingStream()
    get_format(name, PLAIN).write(result, stream)
    assert stream.writes > needing
    assert stream.getvalue() == get_format(name, PLAIN).render(result)


def test_streamed_json_is_the_document() -> None:
    result = many()
    fmt = get_format("json", PLAIN)
    text = fmt.render(result)
    assert json.loads(text) == fmt.document(result)  # type: ignore[attr-defined]
    assert len(json.loads(text)["endpoints"]) == len(result.findings)


def test_csv_lists_every_endpoint() -> None:
    rows = list(csv.DictReader(io.StringIO(get_format("csv", PLAIN).render(many()))))
    assert len([row for row in rows if row["ip"]]) == ALLOWED + VIOLATIONS + 1


@pytest.mark.parametrize("name", ["text", "table"])
def test_table_and_text_list_what_failed_whole_and_count_the_rest(name: str) -> None:
    result = many()
    output = get_format(name, replace(PLAIN, width=200)).render(result)
    for f in result.findings:
        listed = f.endpoint.ip in output
        assert listed or f.judgement.verdict.value == "allowed", f.endpoint.ip
    shown = sum(1 for f in result.findings if f.endpoint.ip in output)
    assert shown == VIOLATIONS + 1  # the allowed rows do not fit in LISTED_ROWS at all
    assert f"{ALLOWED:,} allowed" in output
    assert "every endpoint is in --format json or csv" in output


def test_a_short_report_lists_everything() -> None:
    result = sample_result()
    output = get_format("text", PLAIN).render(result)
    assert all(f.endpoint.ip in output for f in result.findings)
    assert "not listed here" not in output


def test_the_terminal_table_counts_what_it_leaves_out_past_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past TABLE_ATTENTION_ROWS violations and unknowns, the table and its reasons stop
    listing and count the rest, by verdict; nothing is dropped without a word."""
    monkeypatch.setattr(table, "TABLE_ATTENTION_ROWS", 5)
    result = many()
    output = get_format("table", replace(PLAIN, width=200)).render(result)
    needing = [f for f in result.findings if f.judgement.verdict.value != "allowed"]
    shown = [f for f in needing if f.endpoint.ip in output]
    assert len(shown) == 5
    assert all(f.judgement.verdict.value == "violation" for f in shown)
    left = f"{VIOLATIONS - 5 + 1:,} more"
    assert (f"... and {left} violations and unknowns not shown here "
            f"({VIOLATIONS - 5:,} violation, 1 unknown): every one is in --format text, json, "
            "csv or sarif") in output
    assert f"... and {left} reasons not shown here" in output
    assert f"{ALLOWED:,} allowed" in output
    assert f"{VIOLATIONS} violations, 1 unknown" in output  # the headline counts them all
    text = get_format("text", PLAIN).render(result)
    assert all(f.endpoint.ip in text for f in needing)  # where the line sends the reader


def test_the_terminal_table_under_its_bound_lists_every_violation_and_unknown() -> None:
    result = many()
    assert VIOLATIONS + 1 <= table.TABLE_ATTENTION_ROWS
    output = get_format("table", replace(PLAIN, width=200)).render(result)
    assert "violations and unknowns not shown" not in output
    assert "reasons not shown" not in output
