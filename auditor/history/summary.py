"""A month of runs in one page for a compliance ticket: what ran, what violated, on what data."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from auditor.errors import UsageError
from auditor.history.queries import StoredCapture, StoredDatabase, StoredFinding, StoredRun

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Month:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")


def parse_month(text: str) -> Month:
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise UsageError(f"--summary {text!r}: give a month as YYYY-MM, e.g. 2026-11")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Month(start, end)


@dataclass(frozen=True, slots=True)
class ViolatingCapture:
    run_id: int
    recorded_at: datetime
    capture: StoredCapture
    endpoints: tuple[str, ...]  # the addresses that violated in it
    countries: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ViolatingEndpoint:
    ip: str
    country: str | None
    platform: str | None
    hostnames: tuple[str, ...]
    reason: str  # as last judged
    first_run: int
    last_run: int
    runs: int


@dataclass(frozen=True, slots=True)
class PolicyUse:
    sha256: str | None
    first_run: int
    last_run: int
    runs: int


@dataclass(frozen=True, slots=True)
class MonthlySummary:
    month: Month
    runs: int
    runs_by_verdict: dict[str, int]
    captures_audited: int  # distinct capture files (by SHA-256, by path where it has none)
    captures_by_verdict: dict[str, int]  # over every capture of every run
    violating_captures: tuple[ViolatingCapture, ...]
    violating_endpoints: tuple[ViolatingEndpoint, ...]
    violations_by_country: dict[str, int]  # distinct endpoints per country
    databases: tuple[StoredDatabase, ...]  # each distinct build used, in order of first use
    policies: tuple[PolicyUse, ...]
    failed_runs: tuple[StoredRun, ...]  # incomplete or error: what the month does not cover


def monthly_summary(
    month: Month, runs: Sequence[StoredRun], violations: Sequence[StoredFinding]
) -> MonthlySummary:
    by_capture = _violations_by_capture(violations)
    endpoints = _violating_endpoints(violations)
    return MonthlySummary(
        month=month,
        runs=len(runs),
        runs_by_verdict=dict(Counter(run.verdict for run in runs)),
        captures_audited=len({c.sha256 or c.path for run in runs for c in run.captures}),
        captures_by_verdict=dict(Counter(c.verdict for run in runs for c in run.captures)),
        violating_captures=tuple(
            ViolatingCapture(
                run.id,
                run.recorded_at,
                capture,
                tuple(sorted({f.ip for f in by_capture[(run.id, capture.path)]})),
                tuple(sorted({f.country or "?" for f in by_capture[(run.id, capture.path)]})),
            )
            for run in runs
            for capture in run.captures
            if (run.id, capture.path) in by_capture
        ),
        violating_endpoints=endpoints,
        violations_by_country=dict(
            sorted(Counter(e.country or "unknown" for e in endpoints).items())
        ),
        databases=tuple(
            {(d.database_type, d.build_epoch, d.sha256): d
             for run in runs for d in run.databases}.values()
        ),
        policies=_policies(runs),
        failed_runs=tuple(run for run in runs if run.verdict in ("incomplete", "error")),
    )


def _violations_by_capture(
    violations: Sequence[StoredFinding],
) -> dict[tuple[int, str], list[StoredFinding]]:
    found: dict[tuple[int, str], list[StoredFinding]] = {}
    for finding in violations:
        for path in finding.captures:
            found.setdefault((finding.run_id, path), []).append(finding)
    return found


def _violating_endpoints(violations: Sequence[StoredFinding]) -> tuple[ViolatingEndpoint, ...]:
    seen: dict[str, list[StoredFinding]] = {}
    for finding in violations:
        seen.setdefault(finding.ip, []).append(finding)
    return tuple(
        ViolatingEndpoint(
            ip=ip,
            country=found[-1].country,
            platform=found[-1].platform,
            hostnames=tuple(dict.fromkeys(h for f in found for h in f.hostnames)),
            reason=found[-1].reason,
            first_run=found[0].run_id,
            last_run=found[-1].run_id,
            runs=len({f.run_id for f in found}),
        )
        for ip, found in sorted(seen.items(), key=lambda item: (-len(item[1]), item[0]))
    )


def _policies(runs: Sequence[StoredRun]) -> tuple[PolicyUse, ...]:
    uses: dict[str | None, list[int]] = {}
    for run in runs:
        if run.verdict != "error":
            uses.setdefault(run.policy_sha256, []).append(run.id)
    return tuple(PolicyUse(sha, ids[0], ids[-1], len(ids)) for sha, ids in uses.items())
