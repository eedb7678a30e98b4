"""Reads the history back: runs, findings over time, one run whole. Each call is one query set."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.engine import Connection

from auditor.history import schema
from auditor.history.record import FindingRecord

_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    capture: str | None = None  # a path, a file name, or a glob (* and ?)
    platform: str | None = None
    country: str | None = None  # located or registered country


@dataclass(frozen=True, slots=True)
class StoredCapture:
    path: str
    size: int | None
    sha256: str | None
    verdict: str
    complete: bool
    packets: int


@dataclass(frozen=True, slots=True)
class StoredDatabase:
    path: str
    database_type: str
    build_epoch: int
    sha256: str | None


@dataclass(frozen=True, slots=True)
class StoredRun:
    id: int
    recorded_at: datetime
    host: str
    tool_version: str
    verdict: str
    exit_status: int
    complete: bool
    policy_sha256: str | None
    policy_text: str | None
    policy: dict[str, Any] | None
    errors: tuple[str, ...]
    endpoints: int
    violations: int
    unknown: int
    captures: tuple[StoredCapture, ...]
    databases: tuple[StoredDatabase, ...]


@dataclass(frozen=True, slots=True)
class StoredFinding(FindingRecord):
    """A finding as it was recorded, and the run that recorded it."""

    run_id: int
    recorded_at: datetime


def utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; every stored one is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def list_runs(connection: Connection, filters: Filters) -> list[StoredRun]:
    """Runs in the date range that read a matching capture (when one is asked for), oldest
    first. Platform and country narrow the findings, not the runs."""
    query = select(schema.runs).where(*_run_conditions(filters)).order_by(schema.runs.c.id)
    return _runs(connection, query)


def get_runs(connection: Connection, run_ids: Sequence[int]) -> list[StoredRun]:
    query = select(schema.runs).where(schema.runs.c.id.in_(run_ids)).order_by(schema.runs.c.id)
    return _runs(connection, query)


def result_run_ids(
    connection: Connection, *, count: int, before: int | None = None
) -> list[int]:
    """The newest runs that produced a result (a failed run has nothing to compare), oldest
    of them first; with ``before``, only runs older than that one."""
    r = schema.runs
    query = select(r.c.id).where(r.c.verdict != "error")
    if before is not None:
        query = query.where(r.c.id < before)
    query = query.order_by(r.c.id.desc()).limit(count)
    return sorted(int(i) for i in connection.execute(query).scalars())


def list_findings(
    connection: Connection,
    filters: Filters,
    verdicts: Iterable[str] | None = None,
    run_ids: Sequence[int] | None = None,
) -> list[StoredFinding]:
    """Findings of the matching runs, in run order then address order."""
    f, r = schema.findings, schema.runs
    conditions = [*_run_conditions(filters)]
    if run_ids is not None:
        conditions.append(r.c.id.in_(run_ids))
    if verdicts is not None:
        conditions.append(f.c.verdict.in_(list(verdicts)))
    if filters.platform:
        conditions.append(func.lower(f.c.platform) == filters.platform.lower())
    if filters.country:
        code = filters.country.upper()
        conditions.append(or_(f.c.country == code, f.c.registered_country == code))
    if filters.capture:
        seen_in = (
            select(schema.finding_captures.c.finding_id)
            .join(schema.run_captures,
                  schema.run_captures.c.id == schema.finding_captures.c.capture_id)
            .where(schema.finding_captures.c.finding_id == f.c.id,
                   _path_matches(schema.run_captures.c.path, filters.capture))
        )
        conditions.append(exists(seen_in))
    query = (
        select(f, r.c.recorded_at)
        .join(r, r.c.id == f.c.run_id)
        .where(*conditions)
        .order_by(r.c.id, f.c.ip)
    )
    rows = connection.execute(query).mappings().all()
    captures = _captures_of_findings(connection, [row["id"] for row in rows])
    return [
        StoredFinding(
            run_id=row["run_id"],
            recorded_at=utc(row["recorded_at"]),
            ip=row["ip"],
            verdict=row["verdict"],
            reason=row["reason"],
            country=row["country"],
            registered_country=row["registered_country"],
            asn=row["asn"],
            org=row["org"],
            platform=row["platform"],
            hostnames=tuple(row["hostnames"]),
            ports=tuple(row["ports"]),
            packets=row["packets"],
            bytes=row["bytes"],
            captures=captures.get(row["id"], ()),
        )
        for row in rows
    ]


def _run_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    r = schema.runs
    conditions: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conditions.append(r.c.recorded_at >= filters.since)
    if filters.until is not None:
        conditions.append(r.c.recorded_at < filters.until)
    if filters.capture:
        c = schema.run_captures
        conditions.append(
            exists(select(c.c.id).where(c.c.run_id == r.c.id,
                                        _path_matches(c.c.path, filters.capture)))
        )
    return conditions


def _path_matches(column: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    """A glob (``*`` and ``?``) over the whole path; a plain name matches the path or its
    last component."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" in pattern or "?" in pattern:
        like = escaped.replace("*", "%").replace("?", "_")
        return column.like(like, escape="\\")
    return or_(column == pattern, column.like(f"%/{escaped}", escape="\\"))


def _runs(connection: Connection, query: Select[Any]) -> list[StoredRun]:
    rows = connection.execute(query).mappings().all()
    ids = [row["id"] for row in rows]
    captures: dict[int, list[StoredCapture]] = defaultdict(list)
    databases: dict[int, list[StoredDatabase]] = defaultdict(list)
    for chunk in _chunks(ids):
        c, d = schema.run_captures, schema.run_databases
        for row in connection.execute(
            select(c).where(c.c.run_id.in_(chunk)).order_by(c.c.id)
        ).mappings():
            captures[row["run_id"]].append(
                StoredCapture(row["path"], row["size"], row["sha256"], row["verdict"],
                              row["complete"], row["packets"])
            )
        for row in connection.execute(
            select(d).where(d.c.run_id.in_(chunk)).order_by(d.c.id)
        ).mappings():
            databases[row["run_id"]].append(
                StoredDatabase(row["path"], row["database_type"], row["build_epoch"],
                               row["sha256"])
            )
    return [
        StoredRun(
            id=row["id"],
            recorded_at=utc(row["recorded_at"]),
            host=row["host"],
            tool_version=row["tool_version"],
            verdict=row["verdict"],
            exit_status=row["exit_status"],
            complete=row["complete"],
            policy_sha256=row["policy_sha256"],
            policy_text=row["policy_text"],
            policy=row["policy"],
            errors=tuple(row["errors"]),
            endpoints=row["endpoints"],
            violations=row["violations"],
            unknown=row["unknown"],
            captures=tuple(captures[row["id"]]),
            databases=tuple(databases[row["id"]]),
        )
        for row in rows
    ]


def _captures_of_findings(
    connection: Connection, finding_ids: Sequence[int]
) -> dict[int, tuple[str, ...]]:
    fc, c = schema.finding_captures, schema.run_captures
    found: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(finding_ids):
        query = (
            select(fc.c.finding_id, c.c.path)
            .join(c, c.c.id == fc.c.capture_id)
            .where(and_(fc.c.finding_id.in_(chunk)))
            .order_by(fc.c.finding_id, c.c.id)
        )
        for finding_id, path in connection.execute(query):
            found[finding_id].append(path)
    return {key: tuple(paths) for key, paths in found.items()}


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]
