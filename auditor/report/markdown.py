"""The Markdown report, for a compliance ticket: the verdict, each capture's verdict, every
finding that needs a reader (with the captures and frames that show it), what is accepted and
why, the databases and the policy. Every string from outside goes through markdown_text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from auditor.model import AuditResult, Finding, Policy, Verdict
from auditor.report.escape import markdown_text
from auditor.report.interface import ReportFormat
from auditor.report.sections import capture_sections
from auditor.report.view import (
    acceptance_label,
    attention,
    build_date,
    generated_at,
    network_label,
    place_label,
    policy_label,
    reason_label,
    summary_label,
    verdict_word,
)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    yield "| " + " | ".join(headers) + " |"
    yield "|" + "---|" * len(headers)
    for row in rows:
        yield "| " + " | ".join(cell or "-" for cell in row) + " |"


def _captures(result: AuditResult) -> list[str]:
    rows = [
        (markdown_text(s.capture.path), f"**{verdict_word(s.result)}**",
         markdown_text(summary_label(s.result)),
         "complete" if s.capture.complete else "INCOMPLETE")
        for s in capture_sections(result)
    ]
    lines = ["## Captures", "", *_table(("capture", "verdict", "endpoints", "read"), rows)]
    lines.extend(f"- error: {markdown_text(e)}" for e in result.errors)
    return [*lines, ""]


def _seen(finding: Finding) -> str:
    return "<br>".join(
        markdown_text(f"{s.capture} (frame {s.first_frame})" if s.first_frame else s.capture)
        for s in finding.endpoint.seen_in()
    )


FINDING_HEADERS = ("endpoint", "verdict", "severity", "place", "network", "platform",
                   "seen in (first frame)", "reason")


def _finding_row(finding: Finding, policy: Policy) -> tuple[str, ...]:
    severity = finding.severity(policy)
    return (markdown_text(finding.endpoint.ip), finding.judgement.verdict.value,
            severity.value if severity else "", markdown_text(place_label(finding.location)),
            markdown_text(network_label(finding.location)),
            markdown_text(finding.endpoint.platform or ""), _seen(finding),
            markdown_text(reason_label(finding)))


def _findings(result: AuditResult) -> Iterator[str]:
    """Each row made as it is written: a run with many violations is never one list of rows."""
    needing = [f for f in attention(result) if not f.accepted]
    yield from ("## Findings", "")
    if not needing:
        yield from ("None: every endpoint was located, judged and allowed "
                    "(or is accepted below).", "")
        return
    yield from _table(FINDING_HEADERS, (_finding_row(f, result.policy) for f in needing))
    yield ""


def _accepted(result: AuditResult) -> Iterator[str]:
    accepted = [f for f in result.findings
                if f.accepted and f.judgement.verdict is Verdict.VIOLATION]
    if not accepted:
        return
    rows = ((markdown_text(f.endpoint.ip), markdown_text(place_label(f.location)), _seen(f),
             markdown_text(acceptance_label(f))) for f in accepted)
    yield from ("## Accepted", "")
    yield from _table(("endpoint", "place", "seen in", "why"), rows)
    yield ""


def _head(result: AuditResult) -> list[str]:
    return [
        f"# Jurisdiction audit: **{verdict_word(result)}**",
        "",
        f"{markdown_text(summary_label(result))}; {result.summary.accepted} accepted.",
        "",
        f"Policy: {markdown_text(policy_label(result.policy))}; fails on "
        f"{result.policy.fail_on.value} and worse.",
        "",
    ]


def _tail(result: AuditResult, when: str, version: str) -> list[str]:
    return [
        "## Databases",
        "",
        *(f"- {markdown_text(d.path)} ({markdown_text(d.database_type)}, built "
          f"{build_date(d.build_epoch)})" for d in result.databases),
        "",
        *(["## Warnings", "", *(f"- {markdown_text(w)}" for w in
                                (*result.strict_failures, *result.warnings)), ""]
          if result.warnings or result.strict_failures else []),
        f"_Generated {markdown_text(when)} by auditor {markdown_text(version)}._",
    ]


def markdown_lines(result: AuditResult, when: str, version: str) -> Iterator[str]:
    """The report's lines as they are made; the findings' rows grow with the run."""
    yield from _head(result)
    yield from _captures(result)
    yield from _findings(result)
    yield from _accepted(result)
    yield from _tail(result, when, version)


class MarkdownFormat(ReportFormat):
    """Markdown for a ticket or a pull-request comment."""

    name = "markdown"

    def render(self, result: AuditResult) -> str:
        lines = markdown_lines(result, generated_at(self.options), self.options.tool_version)
        return "\n".join(lines) + "\n"

    def write(self, result: AuditResult, stream: TextIO) -> None:
        for line in markdown_lines(result, generated_at(self.options), self.options.tool_version):
            stream.write(line + "\n")
