"""A batch report's sections: each capture judged on its own, by its own counts and frames."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from auditor.model import AuditResult, CaptureSummary, Finding, Sighting


@dataclass(frozen=True, slots=True)
class CaptureSection:
    """One capture of a run: its summary, and the run cut down to it (its verdict, summary
    and findings, each endpoint with this capture's counts, first frame and times)."""

    capture: CaptureSummary
    result: AuditResult


def capture_sections(result: AuditResult) -> Iterator[CaptureSection]:
    """One section per capture read, in the order read."""
    for capture in result.captures:
        yield CaptureSection(capture, capture_result(capture, result))


def capture_result(capture: CaptureSummary, result: AuditResult) -> AuditResult:
    """The capture judged on its own by the audit's own rule (AuditResult.verdict): the
    findings seen in it, the run's databases, policy and --strict failures."""
    if len(result.captures) == 1 and not result.errors:
        if not result.warnings:
            # The whole run is this capture, field for field: the run itself, so its summary
            # and verdict (a pass over every finding each) are worked out once, not twice.
            return result
        findings = result.findings  # the whole run is this capture: nothing to cut
    else:
        findings = tuple(in_capture(f, capture.path) for f in result.findings
                         if capture.path in f.endpoint.captures)
    section = AuditResult(
        captures=(capture,),
        databases=result.databases,
        policy=result.policy,
        findings=findings,
        strict_failures=result.strict_failures,
    )
    # The run's findings whole: counted once for the run and this section.
    return section.tallied(result.tally()) if findings is result.findings else section


def sighting_in(finding: Finding, path: str) -> Sighting | None:
    return next((s for s in finding.endpoint.seen_in() if s.capture == path), None)


def in_capture(finding: Finding, path: str) -> Finding:
    seen = sighting_in(finding, path)
    if seen is None:  # not seen there: the callers pick findings seen in this capture
        return finding
    endpoint = dataclasses.replace(
        finding.endpoint, packets=seen.packets, bytes=seen.bytes, flows=seen.flows,
        first_seen=seen.first_seen, last_seen=seen.last_seen, first_frame=seen.first_frame,
        captures=(path,), sightings=(),
    )
    return dataclasses.replace(finding, endpoint=endpoint)
