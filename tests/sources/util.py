"""What two inputs of the same session must agree on: endpoints and their verdicts."""

from __future__ import annotations

from pathlib import Path

from auditor.audit import AuditRequest, run_audit
from auditor.geo import discover_databases
from auditor.model import AuditResult
from auditor.policy import parse_policy

Facts = dict[str, tuple[object, ...]]


def audit(*paths: Path | str, allow: str = "US,EU") -> AuditResult:
    """The whole pipeline with the bundled database, as `audit PATH --allow US,EU` runs it."""
    request = AuditRequest(
        captures=tuple(str(p) for p in paths),
        databases=tuple(discover_databases([], {})),
        policy=parse_policy([allow], []),
    )
    return run_audit(request)


def verdicts(result: AuditResult) -> dict[str, str]:
    return {f.endpoint.ip: f.judgement.verdict.value for f in result.findings}


def facts(result: AuditResult) -> Facts:
    """Per endpoint: what the metadata shows, leaving out frames and times."""
    return {
        f.endpoint.ip: (
            f.judgement.verdict.value, f.endpoint.ports, f.endpoint.protocols,
            f.endpoint.packets, f.endpoint.bytes, f.endpoint.flows, f.endpoint.reason,
            f.endpoint.hostnames,
        )
        for f in result.findings
    }
