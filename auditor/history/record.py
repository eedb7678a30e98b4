"""One run as the history keeps it: the result's facts plus the digests of the files it read."""

from __future__ import annotations

import hashlib
import socket
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import overload

from auditor import __version__
from auditor.cli.status import ExitStatus
from auditor.model import AuditResult, CaptureSummary, Finding, Policy
from auditor.report.escape import clean, clean_optional
from auditor.report.sections import capture_result
from auditor.report.view import reason_label


class RunVerdict(StrEnum):
    """A run's or a capture's verdict as recorded: the audit's three, and a run that failed."""

    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCOMPLETE = "incomplete"
    ERROR = "error"  # no result at all: the capture could not be read, the run failed


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    text: str  # the policy file as written, or the command line's policy in the same TOML form
    sha256: str
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    strict: bool
    judge_by: str


@dataclass(frozen=True, slots=True)
class DatabaseRecord:
    path: str
    database_type: str
    build_epoch: int
    sha256: str | None  # None when the file could not be read again for its digest


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    path: str
    size: int | None  # None for standard input and pipes: nothing to measure afterwards
    sha256: str | None
    verdict: RunVerdict
    complete: bool
    packets: int


@dataclass(frozen=True, slots=True)
class FindingRecord:
    ip: str
    verdict: str
    reason: str
    country: str | None
    registered_country: str | None
    asn: int | None
    org: str | None
    platform: str | None
    hostnames: tuple[str, ...]
    ports: tuple[str, ...]
    packets: int
    bytes: int
    captures: tuple[str, ...]  # paths of the run's captures that show this endpoint


@dataclass(frozen=True, slots=True)
class RunRecord:
    recorded_at: datetime  # UTC
    tool_version: str
    host: str
    verdict: RunVerdict
    exit_status: int
    complete: bool
    policy: PolicyRecord | None
    databases: tuple[DatabaseRecord, ...]
    captures: tuple[CaptureRecord, ...]
    # Made from the result's findings as they are read (a million endpoints are not held twice);
    # the counts are the result's own.
    findings: Sequence[FindingRecord]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    violations: int = 0
    unknown: int = 0


class FindingRecords(Sequence[FindingRecord]):
    """A result's findings as the history records them, each made when it is read."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self._findings = findings

    def __len__(self) -> int:
        return len(self._findings)

    @overload
    def __getitem__(self, index: int) -> FindingRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[FindingRecord]: ...

    def __getitem__(self, index: int | slice) -> FindingRecord | Sequence[FindingRecord]:
        if isinstance(index, slice):
            return FindingRecords(self._findings[index])
        return _finding(self._findings[index])

    def __iter__(self) -> Iterator[FindingRecord]:
        return map(_finding, self._findings)


def file_sha256(path: str) -> str | None:
    """The file's SHA-256, or None for what is not a regular file (a pipe) or cannot be read."""
    if _file_size(path) is None:  # checked first: opening a FIFO would wait for a writer
        return None
    try:
        with open(path, "rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        return None


def _file_size(path: str) -> int | None:
    try:
        status = Path(path).stat()
    except OSError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def policy_record(policy: Policy, policy_file: str | None) -> PolicyRecord:
    """The policy's content as the user wrote it, so a change of wording is a change too."""
    text = _policy_file_text(policy_file) if policy_file else None
    if text is None:
        text = _policy_as_toml(policy)
    return PolicyRecord(
        # Kept readable line by line; every other control character made visible.
        text="\n".join(clean(line) for line in text.split("\n")),
        sha256=hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest(),
        allow=policy.allow_spec,
        deny=policy.deny_spec,
        strict=policy.strict,
        judge_by=policy.judge_by.value,
    )


def _policy_file_text(path: str) -> str | None:
    try:
        return Path(path).read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return None


def _policy_as_toml(policy: Policy) -> str:
    def codes(spec: Sequence[str]) -> str:
        return "[" + ", ".join(f'"{code}"' for code in spec) + "]"

    return (
        "# given on the command line\n"
        f"allow = {codes(policy.allow_spec)}\n"
        f"deny = {codes(policy.deny_spec)}\n"
        f"strict = {'true' if policy.strict else 'false'}\n"
        f'judge_by = "{policy.judge_by.value}"\n'
    )


def run_record(
    result: AuditResult,
    *,
    requested: Sequence[str],
    policy_file: str | None,
    run_error: str | None = None,
    now: datetime | None = None,
) -> RunRecord:
    """The whole run: every capture asked for (those that could not be read as ``error``).

    A ``run_error`` (the report could not be written) is kept with the audit's result: the run
    then exited 2, whatever its verdict was.
    """
    read = {capture.path for capture in result.captures}
    captures = tuple(_capture(c, result) for c in result.captures) + tuple(
        _unread_capture(path) for path in dict.fromkeys(requested) if path not in read
    )
    return RunRecord(
        recorded_at=now or datetime.now(UTC),
        tool_version=__version__,
        host=clean(socket.gethostname()),
        verdict=RunVerdict(result.verdict.value),
        exit_status=result.exit_status if run_error is None else ExitStatus.ERROR,
        complete=result.complete,
        policy=policy_record(result.policy, policy_file),
        databases=tuple(
            DatabaseRecord(
                path=clean(d.path),
                database_type=clean(d.database_type),
                build_epoch=d.build_epoch,
                sha256=file_sha256(d.path),
            )
            for d in result.databases
        ),
        captures=captures,
        findings=FindingRecords(result.findings),
        errors=tuple(clean(e) for e in result.errors) + ((clean(run_error),) if run_error else ()),
        warnings=tuple(clean(w) for w in result.warnings),
        violations=result.summary.violations,
        unknown=result.summary.unknown,
    )


def failed_run_record(
    message: str,
    *,
    requested: Sequence[str],
    now: datetime | None = None,
) -> RunRecord:
    """A run that produced no result (a corrupt database, a bad policy) is history too: a
    scheduled audit that silently stopped recording would look like a clean one."""
    return RunRecord(
        recorded_at=now or datetime.now(UTC),
        tool_version=__version__,
        host=clean(socket.gethostname()),
        verdict=RunVerdict.ERROR,
        exit_status=ExitStatus.ERROR,
        complete=False,
        policy=None,  # the run may have failed on the policy itself
        databases=(),
        captures=tuple(_unread_capture(path) for path in dict.fromkeys(requested)),
        findings=(),
        errors=(clean(message),),
        warnings=(),
    )


def capture_verdict(capture: CaptureSummary, result: AuditResult) -> RunVerdict:
    """The capture judged on its own by the audit's own rule (the report's capture section)."""
    return RunVerdict(capture_result(capture, result).verdict.value)


def _capture(capture: CaptureSummary, result: AuditResult) -> CaptureRecord:
    return CaptureRecord(
        path=clean(capture.path),
        size=_file_size(capture.path),
        sha256=file_sha256(capture.path),
        verdict=capture_verdict(capture, result),
        complete=capture.complete,
        packets=capture.packets,
    )


def _unread_capture(path: str) -> CaptureRecord:
    return CaptureRecord(
        path=clean(path),
        size=_file_size(path),
        sha256=file_sha256(path),
        verdict=RunVerdict.ERROR,
        complete=False,
        packets=0,
    )


def _finding(finding: Finding) -> FindingRecord:
    endpoint, location, judgement = finding.endpoint, finding.location, finding.judgement
    return FindingRecord(
        ip=endpoint.ip,
        verdict=judgement.verdict.value,
        reason=reason_label(finding),  # with the exception or baseline that accepts it
        country=clean_optional(location.country),
        registered_country=clean_optional(location.registered_country),
        asn=location.asn,
        org=clean_optional(location.org),
        platform=clean_optional(endpoint.platform),
        hostnames=tuple(clean(h) for h in endpoint.hostnames),
        ports=endpoint.ports,
        packets=endpoint.packets,
        bytes=endpoint.bytes,
        captures=tuple(clean(c) for c in endpoint.captures),
    )

