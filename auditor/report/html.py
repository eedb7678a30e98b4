"""The HTML report: one self-contained page, no scripts, no external resources, all text escaped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from auditor.model import AuditResult, Finding
from auditor.report.escape import html_text
from auditor.report.evidence_view import evidence_label
from auditor.report.interface import ReportFormat
from auditor.report.sections import capture_sections
from auditor.report.times import iso_time
from auditor.report.view import (
    capture_label,
    database_label,
    flags_of,
    generated_at,
    network_label,
    place_label,
    platform_label,
    policy_label,
    reason_label,
    registered_label,
    sorted_findings,
    summary_label,
    verdict_word,
)

# No default-src at all: the page may load nothing, run nothing, and submit nowhere.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-weight: bold; padding: 2px 8px; border-radius: 4px; }
.pass, .allowed { color: #155724; } .fail, .violation { color: #a00; }
.incomplete, .unknown { color: #8a6d00; } .local { color: #777; }
h1 .verdict { font-size: 1.2em; }
svg.map { width: 100%; max-width: 1100px; height: auto; border: 1px solid #ccc; }
""".strip()

HEADERS = (
    "Endpoint",
    "Verdict",
    "Country",
    "Registered",
    "Flags",
    "ASN / org",
    "Platform",
    "Hostnames",
    "Packets",
    "Bytes",
    "Flows",
    "Ports",
    "Captures",
    "Reason",
)
SECTION_HEADERS = ("Endpoint", "Verdict", "First frame", "First seen", "Last seen", "Packets",
                   "Bytes", "Flows")


def _cell(text: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{text}</td>"


def _row(finding: Finding) -> str:
    endpoint, location, verdict = finding.endpoint, finding.location, finding.judgement.verdict
    cells = [
        _cell(html_text(endpoint.ip)),
        _cell(verdict.value, f"verdict {verdict.value}"),
        _cell(html_text(place_label(location))),
        _cell(html_text(registered_label(location))),
        _cell(html_text(", ".join(flags_of(finding)))),
        _cell(html_text(network_label(location))),
        _cell(html_text(platform_label(endpoint))),
        _cell("<br>".join(html_text(h) for h in endpoint.hostnames)),
        _cell(f"{endpoint.packets:,}", "num"),
        _cell(f"{endpoint.bytes:,}", "num"),
        _cell(f"{endpoint.flows:,}", "num"),
        _cell(html_text(", ".join(endpoint.ports))),
        _cell("<br>".join(html_text(c) for c in endpoint.captures)),
        _cell(_reason(finding)),
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _reason(finding: Finding) -> str:
    evidence = evidence_label(finding)
    reason = html_text(reason_label(finding))
    return f"{reason}<br><small>{html_text(evidence)}</small>" if evidence else reason


def _map(result: AuditResult) -> str:
    from auditor.report.worldmap import world_map

    drawn = world_map(sorted_findings(result.findings))
    if not drawn:
        return ""
    return (
        "<h2>Where the evidence puts each server</h2>"
        "<p><small>Triangles: vantages. Dashed circles: how far each server can be, from its "
        "round trip. Dots: sites that hostname hints name. Colour: the verdict.</small></p>"
        f"{drawn}"
    )


def _list(title: str, items: list[str]) -> str:
    return f"<h2>{title}</h2>{_list_items(items)}" if items else ""


def _list_items(items: list[str]) -> str:
    if not items:
        return ""
    return "<ul>" + "".join(f"<li>{html_text(item)}</li>" for item in items) + "</ul>"


def _captures(result: AuditResult) -> Iterator[str]:
    """One section per capture: its line, its own verdict and counts, and every endpoint seen
    in it with the first frame and times that show it there (rows written as they are made)."""
    yield "<h2>Captures</h2>"
    header = "".join(f"<th>{h}</th>" for h in SECTION_HEADERS)
    for section in capture_sections(result):
        own = section.result
        verdict = own.verdict.value
        yield (
            f"\n<h3>{html_text(section.capture.path)}: "
            f'<span class="verdict {verdict}">{verdict_word(own)}</span></h3>'
            f"<p>{html_text(capture_label(section.capture))}<br>"
            f"{html_text(summary_label(own))}</p>"
        )
        warnings = _list_items([f"warning: {w}" for w in section.capture.warnings])
        if warnings:
            yield "\n" + warnings
        yield f"\n<table><thead><tr>{header}</tr></thead><tbody>\n"
        yield from _lines(_sighting_row(f) for f in sorted_findings(own.findings))
        yield "\n</tbody></table>"
    errors = _list_items([f"error: {e}" for e in result.errors])
    if errors:
        yield "\n" + errors


def _lines(rows: Iterable[str]) -> Iterator[str]:
    """"\\n".join(rows), a row at a time."""
    for index, row in enumerate(rows):
        yield f"\n{row}" if index else row


def _sighting_row(finding: Finding) -> str:
    endpoint, verdict = finding.endpoint, finding.judgement.verdict
    cells = [
        _cell(html_text(endpoint.ip)),
        _cell(verdict.value, f"verdict {verdict.value}"),
        _cell(str(endpoint.first_frame or ""), "num"),
        _cell(html_text(iso_time(endpoint.first_seen) or "")),
        _cell(html_text(iso_time(endpoint.last_seen) or "")),
        _cell(f"{endpoint.packets:,}", "num"),
        _cell(f"{endpoint.bytes:,}", "num"),
        _cell(f"{endpoint.flows:,}", "num"),
    ]
    return f"<tr>{''.join(cells)}</tr>"


def page(result: AuditResult, when: str, version: str) -> str:
    return "".join(pieces(result, when, version))


def pieces(result: AuditResult, when: str, version: str) -> Iterator[str]:
    """The page in the order written: a row per endpoint at a time, never the whole page."""
    verdict = result.verdict.value
    header = "".join(f"<th>{h}</th>" for h in HEADERS)
    yield f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<title>auditor report: {verdict_word(result)}</title>
<style>
{STYLE}
</style>
</head>
<body>
<h1>Jurisdiction audit: <span class="verdict {verdict}">{verdict_word(result)}</span></h1>
<p>{html_text(summary_label(result))}</p>
<p>Policy: {html_text(policy_label(result.policy))}</p>
<table>
<thead><tr>{header}</tr></thead>
<tbody>
"""
    yield from _lines(_row(f) for f in sorted_findings(result.findings))
    yield f"""
</tbody>
</table>
{_map(result)}
"""
    yield from _captures(result)
    yield f"""
{_list("Databases", [database_label(d) for d in result.databases])}
{_list("Strict failures", list(result.strict_failures))}
{_list("Warnings", list(result.warnings))}
<footer><p>Generated {html_text(when)} by auditor {html_text(version)}.</p></footer>
</body>
</html>
"""


class HtmlFormat(ReportFormat):
    """A single page to archive or send: opens offline, executes nothing."""

    name = "html"

    def render(self, result: AuditResult) -> str:
        return page(result, generated_at(self.options), self.options.tool_version)

    def write(self, result: AuditResult, stream: TextIO) -> None:
        for piece in pieces(result, generated_at(self.options), self.options.tool_version):
            stream.write(piece)
