"""The plain-text report for pipes, files and NO_COLOR: the table's information, no ANSI at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from io import StringIO
from typing import TextIO

from rich.cells import cell_len

from auditor.model import AuditResult, Finding
from auditor.report.escape import clean
from auditor.report.interface import ReportFormat
from auditor.report.view import (
    NAME_LIMIT,
    attention,
    capture_label,
    capture_lines,
    database_label,
    flags_of,
    listed_findings,
    network_label,
    place_label,
    platform_label,
    policy_label,
    reason_label,
    registered_label,
    summary_label,
    verdict_word,
)

HEADERS = (
    "ENDPOINT",
    "VERDICT",
    "COUNTRY",
    "REGISTERED",
    "FLAGS",
    "ASN/ORG",
    "PACKETS",
    "BYTES",
    "FLOWS",
    "PORTS",
    "PLATFORM",
    "HOSTNAMES",
)
NUMERIC = frozenset({"PACKETS", "BYTES", "FLOWS"})
EMPTY = "-"  # an empty cell still shows, so the columns stay readable by eye and by awk


def _cells(finding: Finding) -> list[str]:
    endpoint, location = finding.endpoint, finding.location
    cells = [
        clean(endpoint.ip),
        finding.judgement.verdict.value,
        place_label(location),
        registered_label(location),
        ",".join(flags_of(finding)),
        network_label(location),
        str(endpoint.packets),
        str(endpoint.bytes),
        str(endpoint.flows),
        ",".join(clean(p) for p in endpoint.ports),
        clean(platform_label(endpoint)),
        ",".join(clean(h, NAME_LIMIT) for h in endpoint.hostnames),
    ]
    return [cell or EMPTY for cell in cells]


def _pad(cell: str, width: int, right: bool) -> str:
    # Terminal cells, not code points: a CJK city name takes two columns per character.
    padding = " " * (width - cell_len(cell))
    return padding + cell if right else cell + padding


def _widths(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[int]:
    widths = [cell_len(header) for header in headers]
    for row in rows:
        widths = [max(width, cell_len(cell)) for width, cell in zip(widths, row, strict=True)]
    return widths


def format_rows(headers: Sequence[str], rows: Callable[[], Iterable[Sequence[str]]]
                ) -> Iterator[str]:
    """Columns padded to their widest cell, numbers right-aligned, no trailing spaces.

    ``rows`` is called twice, to measure and then to write: the rows are made again rather
    than held, so a run with many violations is never one list of rows in memory."""
    widths = _widths(headers, rows())
    numeric = [header in NUMERIC for header in headers]
    yield _line(headers, widths, numeric)
    for row in rows():
        yield _line(row, widths, numeric)


def _line(row: Sequence[str], widths: list[int], numeric: list[bool]) -> str:
    cells = [_pad(c, w, n) for c, w, n in zip(row, widths, numeric, strict=True)]
    return "  ".join(cells).rstrip()


def _section(title: str, lines: Iterable[str]) -> Iterator[str]:
    """The title and its lines indented; nothing at all when there are no lines."""
    titled = False
    for line in lines:
        if not titled:
            yield f"{title}:"
            titled = True
        yield f"  {line}"


def _captures(result: AuditResult) -> list[str]:
    lines = []
    for entry in capture_lines(result):
        lines.append(capture_label(entry.capture))
        lines.extend(f"  {line}" for line in (entry.summary, *entry.endpoints) if line)
        lines.extend(f"  {w}" for w in entry.warnings)
    lines.extend(f"error: {clean(e)}" for e in result.errors)
    return lines


def text_lines(result: AuditResult) -> Iterator[str]:
    """The report's lines as they are made; the endpoint rows and the reasons grow with the run."""
    findings, more = listed_findings(result)
    yield f"verdict: {verdict_word(result)}: {summary_label(result)}"
    yield f"policy: {policy_label(result.policy)}"
    yield ""
    yield from format_rows(HEADERS, lambda: map(_cells, findings))
    yield from [more, ""] if more else [""]
    yield from _section("why", (_why(f) for f in attention(result)))
    yield from _section("captures", _captures(result))
    yield from _section("databases", [database_label(d) for d in result.databases])
    yield from _section("strict failures", [clean(s) for s in result.strict_failures])
    yield from _section("warnings", [clean(w) for w in result.warnings])


def _why(finding: Finding) -> str:
    verdict = finding.judgement.verdict.value
    return f"{clean(finding.endpoint.ip)} {verdict}: {reason_label(finding)}"


class TextFormat(ReportFormat):
    """Stable, greppable plain text: one line per endpoint, then the summary."""

    name = "text"

    def render(self, result: AuditResult) -> str:
        buffer = StringIO()
        self.write(result, buffer)
        return buffer.getvalue()

    def write(self, result: AuditResult, stream: TextIO) -> None:
        """Each line as it is made, and no blank lines at the end."""
        blank = 0
        for line in text_lines(result):
            if line:
                stream.write("\n" * blank + line + "\n")
                blank = 0
            else:
                blank += 1  # written only if a line follows
