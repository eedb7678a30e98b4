"""The plain-text report for pipes, files and NO_COLOR: the table's information, no ANSI at all."""

from __future__ import annotations

from collections.abc import Sequence

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


def format_rows(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, numbers right-aligned, no trailing spaces."""
    widths = [max(cell_len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [
            _pad(cell, width, header in NUMERIC)
            for header, cell, width in zip(headers, row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _section(title: str, lines: Sequence[str]) -> list[str]:
    return [f"{title}:", *(f"  {line}" for line in lines)] if lines else []


def _captures(result: AuditResult) -> list[str]:
    lines = []
    for entry in capture_lines(result):
        lines.append(capture_label(entry.capture))
        lines.extend(f"  {line}" for line in (entry.summary, *entry.endpoints) if line)
        lines.extend(f"  {w}" for w in entry.warnings)
    lines.extend(f"error: {clean(e)}" for e in result.errors)
    return lines


def text_lines(result: AuditResult) -> list[str]:
    findings, more = listed_findings(result)
    rows = [_cells(f) for f in findings]
    why = [
        f"{clean(f.endpoint.ip)} {f.judgement.verdict.value}: {reason_label(f)}"
        for f in attention(result)
    ]
    return [
        f"verdict: {verdict_word(result)}: {summary_label(result)}",
        f"policy: {policy_label(result.policy)}",
        "",
        *format_rows(HEADERS, rows),
        *([more] if more else []),
        "",
        *_section("why", why),
        *_section("captures", _captures(result)),
        *_section("databases", [database_label(d) for d in result.databases]),
        *_section("strict failures", [clean(s) for s in result.strict_failures]),
        *_section("warnings", [clean(w) for w in result.warnings]),
    ]


class TextFormat(ReportFormat):
    """Stable, greppable plain text: one line per endpoint, then the summary."""

    name = "text"

    def render(self, result: AuditResult) -> str:
        return "\n".join(text_lines(result)).rstrip("\n") + "\n"
