"""Small recorded runs for the store tests, importable cheaply by the writer subprocesses
(no scapy: a spawned writer should spend its time writing, not importing)."""

from __future__ import annotations

from multiprocessing.synchronize import Barrier

from auditor.history.record import run_record
from auditor.history.store import open_store
from auditor.history.target import parse_target
from auditor.model import AuditResult, Location
from tests.report.factory import capture, database, endpoint, finding, policy


def tiny_result() -> AuditResult:
    pol = policy()
    findings = tuple(
        finding(endpoint(ip, captures=("meeting.pcapng",)), Location(ip, country=code), pol)
        for ip, code in (("81.2.69.142", "GB"), ("89.160.20.113", "SE"))
    )
    return AuditResult((capture(),), (database(),), pol, findings)


def record_runs(history: str, count: int, barrier: Barrier) -> None:
    result = tiny_result()
    barrier.wait()  # every writer opens the empty history at once: the migration races too
    with open_store(parse_target(history), create=True) as store:
        for _ in range(count):
            store.record(run_record(result, requested=(), policy_file=None))
