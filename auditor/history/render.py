"""Writes what the history commands found as text, JSON or Markdown. Stored strings are data:
they were cleaned when recorded and go through escape.py again on the way out."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from auditor.history.diff import DatabaseChange, EndpointChange, RunDiff
from auditor.history.queries import StoredDatabase, StoredFinding, StoredRun
from auditor.history.summary import MonthlySummary
from auditor.report.escape import clean, clean_optional, markdown_text

HISTORY_SCHEMA = "auditor.history-query/1"
DIFF_SCHEMA = "auditor.diff/1"
SUMMARY_SCHEMA = "auditor.summary/1"


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def short(sha256: str | None) -> str:
    return sha256[:12] if sha256 else "-"


# ---- JSON documents -------------------------------------------------------------------------

def run_json(run: StoredRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "recorded_at": iso(run.recorded_at),
        "host": clean(run.host),
        "tool_version": clean(run.tool_version),
        "verdict": run.verdict,
        "exit_status": run.exit_status,
        "complete": run.complete,
        "policy_sha256": run.policy_sha256,
        "policy": run.policy,
        "errors": [clean(e) for e in run.errors],
        "summary": {"endpoints": run.endpoints, "violations": run.violations,
                    "unknown": run.unknown},
        "captures": [
            {"path": clean(c.path), "size": c.size, "sha256": c.sha256, "verdict": c.verdict,
             "complete": c.complete, "packets": c.packets}
            for c in run.captures
        ],
        "databases": [database_json(d) for d in run.databases],
    }


def database_json(database: StoredDatabase | None) -> dict[str, Any] | None:
    if database is None:
        return None
    return {
        "path": clean(database.path),
        "type": clean(database.database_type),
        "build_epoch": database.build_epoch,
        "build_date": build_day(database.build_epoch),
        "sha256": database.sha256,
    }


def finding_json(finding: StoredFinding | None) -> dict[str, Any] | None:
    if finding is None:
        return None
    return {
        "run": finding.run_id,
        "recorded_at": iso(finding.recorded_at),
        "ip": clean(finding.ip),
        "verdict": finding.verdict,
        "reason": clean(finding.reason),
        "country": clean_optional(finding.country),
        "registered_country": clean_optional(finding.registered_country),
        "asn": finding.asn,
        "org": clean_optional(finding.org),
        "platform": clean_optional(finding.platform),
        "hostnames": [clean(h) for h in finding.hostnames],
        "ports": [clean(p) for p in finding.ports],
        "packets": finding.packets,
        "bytes": finding.bytes,
        "captures": [clean(c) for c in finding.captures],
    }


def one_run_json(run: StoredRun, findings: Sequence[StoredFinding]) -> str:
    document = {
        "schema": HISTORY_SCHEMA,
        "run": {**run_json(run), "policy_text": run.policy_text},
        "findings": [finding_json(f) for f in findings],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def history_json(runs: Sequence[StoredRun], findings: Sequence[StoredFinding]) -> str:
    document = {
        "schema": HISTORY_SCHEMA,
        "runs": [run_json(r) for r in runs],
        "findings": [finding_json(f) for f in findings],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _change_json(change: EndpointChange) -> dict[str, Any]:
    return {"ip": clean(change.ip), "cause": change.cause.value,
            "before": finding_json(change.before), "after": finding_json(change.after)}


def diff_json(diff: RunDiff) -> str:
    document = {
        "schema": DIFF_SCHEMA,
        "before": run_json(diff.before),
        "after": run_json(diff.after),
        "policy_changed": diff.policy_changed,
        "database_changes": [
            {"type": clean(c.database_type), "before": database_json(c.before),
             "after": database_json(c.after)}
            for c in diff.database_changes
        ],
        "new_endpoints": [_change_json(c) for c in diff.new_endpoints],
        "resolved_endpoints": [_change_json(c) for c in diff.resolved_endpoints],
        "new_violations": [_change_json(c) for c in diff.new_violations],
        "resolved_violations": [_change_json(c) for c in diff.resolved_violations],
        "changed": [_change_json(c) for c in diff.changed],
        "new_countries": [clean(c) for c in diff.new_countries],
        "gone_countries": [clean(c) for c in diff.gone_countries],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def summary_json(summary: MonthlySummary) -> str:
    document = {
        "schema": SUMMARY_SCHEMA,
        "month": summary.month.label,
        "from": iso(summary.month.start),
        "until": iso(summary.month.end),
        "runs": summary.runs,
        "runs_by_verdict": summary.runs_by_verdict,
        "captures_audited": summary.captures_audited,
        "captures_by_verdict": summary.captures_by_verdict,
        "violating_captures": [
            {"run": v.run_id, "recorded_at": iso(v.recorded_at), "path": clean(v.capture.path),
             "sha256": v.capture.sha256, "endpoints": [clean(e) for e in v.endpoints],
             "countries": [clean(c) for c in v.countries]}
            for v in summary.violating_captures
        ],
        "violating_endpoints": [
            {"ip": clean(e.ip), "country": clean_optional(e.country),
             "platform": clean_optional(e.platform), "hostnames": [clean(h) for h in e.hostnames],
             "reason": clean(e.reason), "first_run": e.first_run, "last_run": e.last_run,
             "runs": e.runs}
            for e in summary.violating_endpoints
        ],
        "violations_by_country": {clean(k): v for k, v in summary.violations_by_country.items()},
        "databases": [database_json(d) for d in summary.databases],
        "policies": [
            {"sha256": p.sha256, "first_run": p.first_run, "last_run": p.last_run, "runs": p.runs}
            for p in summary.policies
        ],
        "incomplete_runs": [
            {"run": r.id, "recorded_at": iso(r.recorded_at), "verdict": r.verdict,
             "errors": [clean(e) for e in r.errors]}
            for r in summary.failed_runs
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# ---- Text and Markdown: one table writer for both -------------------------------------------

Cell = Callable[[str], str]
Rows = Sequence[Sequence[str]]


def _table(headers: Sequence[str], rows: Rows, markdown: bool) -> list[str]:
    escape: Cell = markdown_text if markdown else clean
    cells = [[escape(value) for value in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return lines
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    return [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in [list(headers), *cells]
    ]


def _heading(text: str, markdown: bool, level: int = 2) -> str:
    return f"{'#' * level} {text}" if markdown else text


def _section(title: str, headers: Sequence[str], rows: Rows, markdown: bool) -> list[str]:
    """A blank line, a heading, and the table or "(none)"."""
    body = _table(headers, rows, markdown) if rows else ["(none)"]
    return ["", _heading(title, markdown), *body]


def _bullets(items: Sequence[str], markdown: bool) -> list[str]:
    escape: Cell = markdown_text if markdown else clean
    return [("- " if markdown else "  ") + escape(item) for item in items]


_RUN_HEADERS = ("run", "recorded (UTC)", "verdict", "captures", "endpoints", "violations",
                "unknown", "host")
_FINDING_HEADERS = ("run", "recorded (UTC)", "endpoint", "verdict", "country", "platform",
                    "captures", "reason")
_CHANGE_HEADERS = ("endpoint", "before", "after", "coincides with", "platform", "captures")
_DATABASE_HEADERS = ("type", "build date", "sha256", "path")


def _run_rows(runs: Sequence[StoredRun]) -> list[list[str]]:
    return [
        [str(r.id), stamp(r.recorded_at), r.verdict, str(len(r.captures)), str(r.endpoints),
         str(r.violations), str(r.unknown), r.host]
        for r in runs
    ]


def _finding_rows(findings: Sequence[StoredFinding]) -> list[list[str]]:
    return [
        [str(f.run_id), stamp(f.recorded_at), f.ip, f.verdict, f.country or "?",
         f.platform or "", ", ".join(f.captures), f.reason]
        for f in findings
    ]


def _database_rows(databases: Sequence[StoredDatabase]) -> list[list[str]]:
    return [[d.database_type, build_day(d.build_epoch), d.sha256 or "-", d.path]
            for d in databases]


def _change_rows(changes: Sequence[EndpointChange]) -> list[list[str]]:
    def side(finding: StoredFinding | None) -> str:
        return "(absent)" if finding is None else f"{finding.verdict} {finding.country or '?'}"

    rows = []
    for change in changes:
        seen = change.after or change.before
        platform = (seen.platform or "") if seen else ""
        captures = ", ".join(seen.captures) if seen else ""
        rows.append([change.ip, side(change.before), side(change.after), change.cause.value,
                     platform, captures])
    return rows


def history_text(
    runs: Sequence[StoredRun], findings: Sequence[StoredFinding], markdown: bool
) -> str:
    lines = _section(f"Runs ({len(runs)})", _RUN_HEADERS, _run_rows(runs), markdown)[1:]
    lines += _section(f"Findings ({len(findings)})", _FINDING_HEADERS, _finding_rows(findings),
                      markdown)
    return "\n".join(lines) + "\n"


def _database_change_line(change: DatabaseChange) -> str:
    def side(database: StoredDatabase | None) -> str:
        if database is None:
            return "(none)"
        return f"built {build_day(database.build_epoch)}, sha256 {short(database.sha256)}"

    return f"database {change.database_type}: {side(change.before)} -> {side(change.after)}"


def diff_text(diff: RunDiff, markdown: bool) -> str:
    a, b = diff.before, diff.after
    context = [_database_change_line(c) for c in diff.database_changes]
    if diff.policy_changed:
        context.append(f"policy: sha256 {short(a.policy_sha256)} -> {short(b.policy_sha256)}")
    lines = [
        _heading(f"Run {a.id} ({stamp(a.recorded_at)}, {a.verdict}) -> run {b.id} "
                 f"({stamp(b.recorded_at)}, {b.verdict})", markdown, level=1),
        "",
        *(_bullets(context, markdown) or ["no database or policy change between the runs"]),
    ]
    for title, changes in (
        ("New violations", diff.new_violations),
        ("Resolved violations", diff.resolved_violations),
        ("Placed or judged otherwise", diff.changed),
        ("New endpoints", diff.new_endpoints),
        ("Resolved endpoints", diff.resolved_endpoints),
    ):
        lines += _section(f"{title} ({len(changes)})", _CHANGE_HEADERS, _change_rows(changes),
                          markdown)
    countries = (f"countries: new {', '.join(diff.new_countries) or '-'}; "
                 f"gone {', '.join(diff.gone_countries) or '-'}")
    lines += ["", markdown_text(countries) if markdown else clean(countries)]
    return "\n".join(lines) + "\n"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {key}" for key, count in sorted(counts.items())) or "none"


def summary_text(summary: MonthlySummary, markdown: bool, source: str) -> str:
    by_country = ", ".join(f"{k}: {v}" for k, v in summary.violations_by_country.items())
    facts = [
        f"Period: {iso(summary.month.start)} to {iso(summary.month.end)} (end excluded)",
        f"History: {source}",
        f"Runs: {summary.runs} ({_counts(summary.runs_by_verdict)})",
        f"Captures audited: {summary.captures_audited} distinct files; verdicts per run: "
        f"{_counts(summary.captures_by_verdict)}",
        f"Endpoints in violation: {len(summary.violating_endpoints)}"
        + (f" ({by_country})" if by_country else ""),
    ]
    lines = [_heading(f"Audit summary {summary.month.label}", markdown, level=1), "",
             *_bullets(facts, markdown)]
    lines += _section(
        f"Captures with violations ({len(summary.violating_captures)})",
        ("run", "recorded (UTC)", "capture", "sha256", "countries", "endpoints"),
        [[str(v.run_id), stamp(v.recorded_at), v.capture.path, short(v.capture.sha256),
          ", ".join(v.countries), ", ".join(v.endpoints)] for v in summary.violating_captures],
        markdown,
    )
    lines += _section(
        f"Endpoints in violation ({len(summary.violating_endpoints)})",
        ("endpoint", "country", "platform", "hostnames", "runs", "first run", "last run",
         "reason"),
        [[e.ip, e.country or "?", e.platform or "", ", ".join(e.hostnames), str(e.runs),
          str(e.first_run), str(e.last_run), e.reason] for e in summary.violating_endpoints],
        markdown,
    )
    lines += _section("Geolocation databases used", _DATABASE_HEADERS,
                      _database_rows(summary.databases), markdown)
    lines += _section(
        "Policies used",
        ("sha256", "runs", "first run", "last run"),
        [[p.sha256 or "-", str(p.runs), str(p.first_run), str(p.last_run)]
         for p in summary.policies],
        markdown,
    )
    lines += _section(
        f"Runs not covering their captures ({len(summary.failed_runs)})",
        ("run", "recorded (UTC)", "verdict", "errors"),
        [[str(r.id), stamp(r.recorded_at), r.verdict, "; ".join(r.errors)]
         for r in summary.failed_runs],
        markdown,
    )
    return "\n".join(lines) + "\n"


def _policy_block(text: str | None, markdown: bool) -> list[str]:
    """The policy as written: a fenced block in Markdown (no line can close it), indented on a
    terminal."""
    policy = (text or "(not recorded: the run failed before it)").rstrip("\n")
    lines = [clean(line) for line in policy.split("\n")]
    if markdown:
        return ["~~~~", *(line.replace("~~~~", "~~~\\~") for line in lines), "~~~~"]
    return ["    " + line for line in lines]


def one_run_text(run: StoredRun, findings: Sequence[StoredFinding], markdown: bool) -> str:
    """One run whole, as evidence: what was read, with what data and policy, what was found."""
    escape: Cell = markdown_text if markdown else clean
    lines = [
        _heading(f"Run {run.id}: {run.verdict} (exit {run.exit_status})", markdown, level=1),
        "",
        escape(f"Recorded {stamp(run.recorded_at)} UTC on {run.host} by auditor "
               f"{run.tool_version}."),
        "",
        _heading(f"Policy (sha256 {run.policy_sha256 or '-'})", markdown),
        *_policy_block(run.policy_text, markdown),
    ]
    lines += _section("Databases", _DATABASE_HEADERS, _database_rows(run.databases), markdown)
    lines += _section(
        "Captures",
        ("path", "size", "sha256", "verdict", "packets"),
        [[c.path, "-" if c.size is None else str(c.size), c.sha256 or "-", c.verdict,
          str(c.packets)] for c in run.captures],
        markdown,
    )
    lines += _section(f"Findings ({len(findings)})", _FINDING_HEADERS, _finding_rows(findings),
                      markdown)
    if run.errors:
        lines += ["", _heading("Errors", markdown), *_bullets(run.errors, markdown)]
    return "\n".join(lines) + "\n"
