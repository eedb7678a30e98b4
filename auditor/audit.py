"""Wires the stages together: captures -> flows -> server endpoints -> locations -> verdicts."""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from auditor.endpoints import (
    ServerTable,
    capture_hosts,
    endpoint_addresses,
    server_table,
)
from auditor.errors import CaptureError
from auditor.geo import DEFAULT_MAX_AGE_DAYS, Locator, open_locator, staleness_warnings
from auditor.merging import merge_endpoints
from auditor.model import (
    AuditResult,
    CaptureResult,
    CaptureSummary,
    DatabaseInfo,
    Evidence,
    Finding,
    Location,
    Policy,
    ServerEndpoint,
    SignalledKind,
    Vantage,
    VantageSource,
    Verdict,
)
from auditor.platforms import attributed_endpoints
from auditor.policy import judge_findings
from auditor.policy.exceptions import Baseline, accept, acceptance_warnings
from auditor.signalled import signalled_endpoints
from auditor.sources import read_source
from auditor.tally import Tally

if TYPE_CHECKING:  # the evidence stage and Dask are imported when used: start-up time
    from auditor.cluster import ClusterOptions
    from auditor.geo.evidence import CaptureTrips

Progress = Callable[[str, int, int], None]  # (capture path, bytes done, bytes total)


@dataclass(frozen=True, slots=True)
class AuditRequest:
    captures: tuple[str, ...]
    databases: tuple[str, ...]
    policy: Policy
    workers: int = 1
    max_db_age_days: float | None = DEFAULT_MAX_AGE_DAYS
    now: float | None = None  # seconds since the epoch, for database staleness; None: skip
    vantage: Vantage | None = None  # where every capture was taken; None: inferred per capture
    cluster: ClusterOptions | None = None  # read the captures on a Dask cluster instead
    baseline: Baseline | None = None  # violations of an earlier report: only new ones fail


@dataclass(frozen=True, slots=True)
class CaptureOutcome:
    """One capture read: its summary, server endpoints and round trips, or why it could not be
    read."""

    summary: CaptureSummary | None
    endpoints: Sequence[ServerEndpoint]  # a tuple, or a table of one capture's (endpoints.py)
    error: str | None
    trips: CaptureTrips | None = None


def run_audit(request: AuditRequest, progress: Progress | None = None) -> AuditResult:
    """Audit every capture of the request against its policy. Raises DatabaseError only."""
    with open_locator(request.databases) as locator:
        # What was read is handed over whole (this is its one reference), so that each stage
        # after can let go of what the next no longer needs.
        return _judged(request, _read_all(request, progress), locator)


def _judged(request: AuditRequest, outcomes: list[CaptureOutcome], locator: Locator) -> AuditResult:
    """Locate, weigh, attribute and judge every server endpoint read."""
    with collector_paused():
        endpoints = merge_endpoints(o.endpoints for o in outcomes)
        # With a million servers, the per-capture endpoints and round trips must not live
        # until the report is written, nor the mapped databases count in the peak memory.
        outcomes = [dataclasses.replace(o, endpoints=()) for o in outcomes]
        locations = locator.locate_all(endpoint_addresses(endpoints))
        databases = locator.databases
        evidence = _evidence(outcomes, locations, locator, request.vantage)
        locator.close()
        summaries = [o.summary for o in outcomes]
        errors = [o.error for o in outcomes]
        del outcomes
        given = endpoints if isinstance(endpoints, ServerTable) else list(endpoints)
        del endpoints  # each endpoint replaced in place: a million are never held twice
        attributed = attributed_endpoints(given, [location.asn for location in locations])
        del given
        today = _today(request.now)
        findings = accept(judge_findings(attributed, locations, request.policy, evidence),
                          request.policy, today, request.baseline)
        tally = Tally.of(findings)  # counted once: for the warnings, then the verdict
        accepted = acceptance_warnings(request.policy, tally, today)
        del attributed, locations
    stale = _stale_database_warnings(databases, request)
    set_aside = tuple(dict.fromkeys(r for e in evidence.values() for r in e.set_aside))
    captures = tuple(summary for summary in summaries if summary is not None)
    return AuditResult(
        captures=captures,
        databases=databases,
        policy=request.policy,
        findings=findings,
        warnings=(*_coverage_warnings(captures, findings), *stale, *set_aside, *accepted),
        errors=tuple(error for error in errors if error is not None),
        strict_failures=stale if request.policy.strict else (),
    ).tallied(tally)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection inside. Reading and the stages after it build a
    few frozen records per server, which live to the report, and each full collection walked
    them all again (1.9 of 11 CPU s for 100k public servers). They hold no reference cycles:
    reference counting frees them, and any cycles made meanwhile are collected afterwards.

    What was made inside is then moved to the oldest generation as it is (gc.freeze, then
    gc.unfreeze: two list splices), not walked by the first young collection after: that one
    walked every record still held (0.1 s of 100k public servers' judged findings). Cycles
    among them are still found, by the next full collection. Objects a caller had frozen stay
    frozen: then the collector is only turned back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _today(now: float | None) -> date | None:
    """The UTC day exceptions are checked against; None (no clock given): none applies."""
    return None if now is None else datetime.fromtimestamp(now, UTC).date()


def _evidence(
    outcomes: Sequence[CaptureOutcome],
    locations: Sequence[Location],
    locator: Locator,
    given: Vantage | None,
) -> dict[str, Evidence]:
    from auditor.geo.evidence import gather_evidence

    trips = [o.trips for o in outcomes if o.trips is not None]
    if not any(t.trips or t.names for t in trips):
        # No round trip and no name to weigh, so gather_evidence gives nothing: neither the
        # places by address (a dict of every server) nor a vantage are needed.
        return {}
    vantages = {t.capture: given or _inferred(t, locator) for t in trips}
    return gather_evidence({loc.ip: loc for loc in locations}, trips, vantages)


def _inferred(trips: CaptureTrips, locator: Locator) -> Vantage | None:
    """The capture host's own public address, else its address as STUN servers saw it."""
    from auditor.geo.vantage import inferred_vantage

    public = [loc for loc in (locator.locate(ip) for ip in sorted(trips.hosts)) if not loc.is_local]
    mapped = [locator.locate(ip) for ip in sorted(trips.mapped)]
    return inferred_vantage(trips.capture, public) or inferred_vantage(
        trips.capture, mapped, VantageSource.STUN_MAPPED
    )


def _read_all(request: AuditRequest, progress: Progress | None) -> list[CaptureOutcome]:
    paths = request.captures
    if request.cluster is not None:
        from auditor.cluster import read_on_cluster

        return read_on_cluster(request.cluster, paths, progress)
    if len(paths) > 1 and request.workers > 1:
        # A day's batch: one process per file keeps every core busy; each file is read whole.
        # (Imported here: a run of one file or one worker never starts a process pool.)
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=min(request.workers, len(paths)))
        try:
            return list(pool.map(read_one, paths))
        finally:
            # On Ctrl-C or SIGTERM, drop the captures still queued instead of reading them all
            # before the exit status can be given.
            pool.shutdown(wait=True, cancel_futures=True)
    return [read_one(path, request.workers, _bind(progress, path)) for path in paths]


def _bind(progress: Progress | None, path: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(path, done, total)


def read_one(
    path: str, workers: int = 1, progress: Callable[[int, int], None] | None = None
) -> CaptureOutcome:
    # Reading makes no reference cycles either: its young collections (250 for 1M packets)
    # and the full one they lead to walked its records for nothing.
    with collector_paused():
        try:
            capture: CaptureResult = read_source(path, workers=workers, progress=progress)
        except CaptureError as error:
            return CaptureOutcome(None, (), str(error))
        return capture_outcome(capture)


def capture_outcome(capture: CaptureResult) -> CaptureOutcome:
    """What the audit keeps of a capture read: its summary, endpoints and round trips."""
    from auditor.geo.evidence import capture_trips

    summary = capture.summary
    mapped = [(s.client, s.address) for s in capture.signalled if s.kind is SignalledKind.MAPPED]
    with collector_paused():  # a record per server and per timed flow: see collector_paused
        hosts = capture.own_hosts or capture_hosts(capture.flows)
        endpoints = merge_endpoints([
            server_table(capture.flows, capture.names, capture=summary.path, own_hosts=hosts),
            signalled_endpoints(capture.signalled, hosts, summary.path, summary.first_seen or 0.0),
        ])  # fmt: skip
        trips = capture_trips(
            summary.path, capture.flows, capture.names, hosts, summary.first_seen, mapped=mapped
        )
    return CaptureOutcome(summary, endpoints, None, trips)


def _coverage_warnings(
    captures: Sequence[CaptureSummary], findings: Sequence[Finding]
) -> tuple[str, ...]:
    """Say so when there was nothing to judge: an empty result must not read as a clean one."""
    if not captures:
        return ()
    if not any(capture.saw_traffic for capture in captures):
        return ("no IP packet in any capture: nothing was audited",)
    if all(finding.judgement.verdict is Verdict.LOCAL for finding in findings):
        return (
            "no public server endpoint: only local traffic was seen, so nothing was located "
            "or judged",
        )
    return ()


def _stale_database_warnings(
    databases: Sequence[DatabaseInfo], request: AuditRequest
) -> tuple[str, ...]:
    if request.now is None or request.max_db_age_days is None:
        return ()
    return tuple(staleness_warnings(databases, request.now, request.max_db_age_days))


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
