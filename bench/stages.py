"""Where an audit's time and memory go, stage by stage, in one process.

    python bench/stages.py CAPTURE [--format json|csv|table|text] [--allow US,EU] [--db PATH]
                           [--history PATH] [--workers 1]

Runs the stages audit.py wires (read, endpoints, round trips, locate, evidence, judge, report)
one after the other and prints, after each, its wall and CPU seconds, the process's resident
memory (VmRSS) and its peak so far (VmHWM). The totals are those of the whole command; compare
them with `/usr/bin/time audit ...` on the same file (start-up and imports are outside).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
# Appended, not put first: PYTHONPATH=another/tree times that tree (every_shape.py --tree).
sys.path.append(str(HERE.parent))

T = TypeVar("T")


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


class Stages:
    """Times each stage and prints one line for it."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, int, int]] = []
        print(f"  {'stage':12} {'wall s':>7} {'cpu s':>7} {'RSS MB':>7} {'peak MB':>8}")

    def run(self, name: str, work: Callable[..., T], *args: object) -> T:
        # Each stage with the collector paused, as the command runs them (audit.collector_paused:
        # reading, the endpoints, locate to judge, the report): with it running, a full
        # collection the command never makes fell in the report stage (0.25 s at 100k servers).
        from auditor.audit import collector_paused

        wall, cpu = time.perf_counter(), _cpu()
        with collector_paused():
            value = work(*args)
        row = (name, time.perf_counter() - wall, _cpu() - cpu,
               _status_kb("VmRSS") // 1024, _status_kb("VmHWM") // 1024)  # fmt: skip
        self.rows.append(row)
        print(f"  {row[0]:12} {row[1]:7.2f} {row[2]:7.2f} {row[3]:7} {row[4]:8}", flush=True)
        return value

    def total(self) -> None:
        wall = sum(r[1] for r in self.rows)
        cpu = sum(r[2] for r in self.rows)
        peak = max(r[4] for r in self.rows)
        load = os.getloadavg()[0]
        print(f"  {'total':12} {wall:7.2f} {cpu:7.2f} {'':7} {peak:8}  (load average {load:.1f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--format", default="json")
    parser.add_argument("--allow", default="US,EU")
    parser.add_argument("--db", action="append")
    parser.add_argument("--history", type=Path, help="also build the history line")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    profile(args.capture, args.format, args.allow, args.db, args.workers, history=args.history)
    return 0


def profile(
    capture: str, fmt: str, allow: str, dbs: list[str] | None, workers: int, *, history: Path | None
) -> None:
    """The stages of auditor.audit.run_audit, timed one by one."""
    import dataclasses

    from auditor import audit
    from auditor.endpoints import capture_hosts, endpoint_addresses, server_table
    from auditor.geo import discover_databases, open_locator
    from auditor.geo.evidence import capture_trips
    from auditor.merging import merge_endpoints
    from auditor.model import AuditResult, CaptureResult
    from auditor.policy import judge_findings, parse_policy
    from auditor.report import get_format
    from auditor.sources import read_source

    databases = discover_databases(dbs or [], os.environ)
    policy = parse_policy(allow.split(","))
    print(f"{capture} --format {fmt} --allow {allow} --workers {workers}")
    stages = Stages()
    read: CaptureResult | None = stages.run(
        "read", lambda: read_source(capture, workers=workers))
    assert read is not None
    summary = dataclasses.replace(read.summary, flows=len(read.flows))
    hosts = stages.run("hosts", lambda r: r.own_hosts or capture_hosts(r.flows), read)
    endpoints = stages.run("endpoints", lambda r: server_table(
        r.flows, r.names, capture=summary.path, own_hosts=hosts), read)
    trips = stages.run("round trips", lambda r: capture_trips(
        summary.path, r.flows, r.names, hosts, summary.first_seen), read)
    read = None  # the flows go, as in audit.capture_outcome
    outcome = audit.CaptureOutcome(summary, endpoints, None, trips)
    del endpoints, trips
    with open_locator(databases) as locator:
        merged = stages.run("merge", merge_endpoints, [outcome.endpoints])
        outcome = dataclasses.replace(outcome, endpoints=())
        locations = stages.run(
            "locate", lambda m: locator.locate_all(endpoint_addresses(m)), merged)
        evidence = stages.run("evidence", audit._evidence, [outcome], locations, locator, None)
        infos = locator.databases
    outcome = dataclasses.replace(outcome, trips=None)
    attributed = stages.run("platform", _attribute, merged, locations)
    merged = ()
    findings = stages.run("judge", judge_findings, attributed, locations, policy, evidence)
    attributed, locations, evidence = [], (), {}
    result = AuditResult(captures=(summary,), databases=infos, policy=policy, findings=findings)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        stages.run("report", get_format(fmt).write, result, sink)
    if history is not None:
        from auditor.report.history import history_line

        stages.run("history", history_line, result)
    stages.total()


def _attribute(endpoints: Any, locations: tuple[Any, ...]) -> list[Any]:
    """As audit.run_audit does it."""
    from auditor.endpoints import ServerTable
    from auditor.platforms import attributed_endpoints

    given = endpoints if isinstance(endpoints, ServerTable) else list(endpoints)
    return attributed_endpoints(given, [location.asn for location in locations])


if __name__ == "__main__":
    sys.exit(main())
