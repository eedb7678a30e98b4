"""What changed between two runs, and whether a database or policy change coincides with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from auditor.history.queries import StoredDatabase, StoredFinding, StoredRun

VIOLATION = "violation"
LOCAL = "local"


class Cause(StrEnum):
    """What a change coincides with. Traffic: the endpoint came or went."""

    TRAFFIC = "traffic"
    DATABASE = "database"  # the same address, placed elsewhere by a changed database
    POLICY = "policy"  # the same place, judged otherwise by a changed policy
    UNEXPLAINED = "unexplained"  # same databases and policy: should not happen; shown plainly


@dataclass(frozen=True, slots=True)
class EndpointChange:
    ip: str
    before: StoredFinding | None
    after: StoredFinding | None
    cause: Cause


@dataclass(frozen=True, slots=True)
class DatabaseChange:
    database_type: str
    before: StoredDatabase | None
    after: StoredDatabase | None


@dataclass(frozen=True, slots=True)
class RunDiff:
    before: StoredRun
    after: StoredRun
    new_endpoints: tuple[EndpointChange, ...]
    resolved_endpoints: tuple[EndpointChange, ...]
    new_violations: tuple[EndpointChange, ...]
    resolved_violations: tuple[EndpointChange, ...]
    changed: tuple[EndpointChange, ...]  # in both runs, placed or judged otherwise
    new_countries: tuple[str, ...]
    gone_countries: tuple[str, ...]
    database_changes: tuple[DatabaseChange, ...]
    policy_changed: bool


def diff_runs(
    before: StoredRun,
    after: StoredRun,
    before_findings: Sequence[StoredFinding],
    after_findings: Sequence[StoredFinding],
) -> RunDiff:
    old = {f.ip: f for f in before_findings}
    new = {f.ip: f for f in after_findings}
    database_changes = _database_changes(before, after)
    policy_changed = _policy_key(before) != _policy_key(after)

    def change(ip: str) -> EndpointChange:
        first, second = old.get(ip), new.get(ip)
        return EndpointChange(
            ip, first, second, _cause(first, second, bool(database_changes), policy_changed)
        )

    both = sorted(old.keys() & new.keys())
    return RunDiff(
        before=before,
        after=after,
        new_endpoints=tuple(change(ip) for ip in sorted(new.keys() - old.keys())),
        resolved_endpoints=tuple(change(ip) for ip in sorted(old.keys() - new.keys())),
        new_violations=tuple(
            change(ip) for ip in sorted(new)
            if new[ip].verdict == VIOLATION and _verdict(old.get(ip)) != VIOLATION
        ),
        resolved_violations=tuple(
            change(ip) for ip in sorted(old)
            if old[ip].verdict == VIOLATION and _verdict(new.get(ip)) != VIOLATION
        ),
        changed=tuple(change(ip) for ip in both if _placed_or_judged_otherwise(old[ip], new[ip])),
        new_countries=tuple(sorted(_countries(after_findings) - _countries(before_findings))),
        gone_countries=tuple(sorted(_countries(before_findings) - _countries(after_findings))),
        database_changes=database_changes,
        policy_changed=policy_changed,
    )


def _verdict(finding: StoredFinding | None) -> str | None:
    return None if finding is None else finding.verdict


def _placed_or_judged_otherwise(first: StoredFinding, second: StoredFinding) -> bool:
    return _place(first) != _place(second) or first.verdict != second.verdict


def _place(finding: StoredFinding) -> tuple[str | None, str | None]:
    return finding.country, finding.registered_country


def _cause(
    first: StoredFinding | None,
    second: StoredFinding | None,
    databases_changed: bool,
    policy_changed: bool,
) -> Cause:
    if first is None or second is None:
        return Cause.TRAFFIC
    if _place(first) != _place(second):
        return Cause.DATABASE if databases_changed else Cause.UNEXPLAINED
    if first.verdict != second.verdict:
        if policy_changed:
            return Cause.POLICY
        # Same country, other verdict: flags a database sets (anycast, accuracy) can do that.
        return Cause.DATABASE if databases_changed else Cause.UNEXPLAINED
    return Cause.TRAFFIC


def _countries(findings: Sequence[StoredFinding]) -> set[str]:
    return {f.country for f in findings if f.country and f.verdict != LOCAL}


def _policy_key(run: StoredRun) -> tuple[str | None, str]:
    effective = run.policy or {}
    return run.policy_sha256, repr(sorted(effective.items()))


def _database_changes(before: StoredRun, after: StoredRun) -> tuple[DatabaseChange, ...]:
    """Databases matched by type: a new build (date or SHA-256), one added, one removed."""
    old = {d.database_type: d for d in before.databases}
    new = {d.database_type: d for d in after.databases}
    changes = []
    for kind in sorted(old.keys() | new.keys()):
        first, second = old.get(kind), new.get(kind)
        if first is None or second is None or _build(first) != _build(second):
            changes.append(DatabaseChange(kind, first, second))
    return tuple(changes)


def _build(database: StoredDatabase) -> tuple[int, str | None]:
    return database.build_epoch, database.sha256
