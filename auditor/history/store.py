"""Opens the history (SQLite or PostgreSQL), brings its schema up to date, and records runs.

SQLite runs in WAL mode with every write transaction begun IMMEDIATE, so several runs at once
queue on the busy timeout instead of failing; PostgreSQL serialises migrations with an advisory
lock. A run is written in one transaction: a crash mid-run leaves the history as it was.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from auditor.errors import HistoryError
from auditor.history import schema
from auditor.history.record import FindingRecord, RunRecord
from auditor.history.target import HistoryKind, HistoryTarget, looks_like_sqlite

BUSY_TIMEOUT_MS = 60_000  # a scheduled run waits this long for another run's commit
_MIGRATION_LOCK = 0x61756469  # "audi": the advisory lock PostgreSQL migrations take
_WRITING = "auditor_writing"  # execution option: does this transaction write?
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class HistoryStore:
    """One open history. Use as a context manager; every method is one transaction."""

    def __init__(self, engine: Engine, target: HistoryTarget) -> None:
        self.engine = engine
        self.target = target

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction, its database errors turned into one line naming the history."""
        with self._begin(writing=True) as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read transaction: on SQLite a snapshot that neither waits for a run being
        written nor holds one up."""
        with self._begin(writing=False) as connection:
            yield connection

    @contextmanager
    def _begin(self, *, writing: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as opened:
                connection = opened.execution_options(**{_WRITING: writing})
                with connection.begin():
                    yield connection
        except SQLAlchemyError as error:
            raise HistoryError(f"{self.target.label}: {_reason(error)}") from error

    def record(self, run: RunRecord) -> int:
        """Writes the run whole, in one transaction, and returns its number."""
        with self.transaction() as connection:
            return _insert_run(connection, run)


def open_store(target: HistoryTarget, *, create: bool) -> HistoryStore:
    """Opens (and with ``create``, makes) the history and migrates it to this code's schema."""
    if target.kind is HistoryKind.SQLITE:
        engine = _sqlite_engine(Path(target.location), create=create, label=target.label)
    elif target.kind is HistoryKind.POSTGRESQL:
        engine = _postgresql_engine(target)
    else:
        raise HistoryError(f"{target.label}: a JSON-lines history cannot be queried; use a "
                           "database (--history auditor.db)")
    store = HistoryStore(engine, target)
    try:
        _migrate(store)
    except BaseException:
        engine.dispose()
        raise
    return store


def _sqlite_engine(path: Path, *, create: bool, label: str) -> Engine:
    kind = looks_like_sqlite(path)
    if kind is False:
        raise HistoryError(
            f"{label}: not a SQLite history (a JSON-lines history must end in .jsonl)"
        )
    if kind is None and not create and not path.exists():
        raise HistoryError(f"{label}: no history here yet (audit ... --history {label} makes it)")
    # NullPool: each transaction gets its own connection, opened with the pragmas below.
    engine = create_engine(f"sqlite+pysqlite:///{path}", poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # pysqlite's own transaction handling would begin DEFERRED, and a deferred reader that
        # then writes fails with "database is locked" at once, whatever the busy timeout.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _write_ahead(cursor)
        cursor.execute("PRAGMA synchronous = FULL")  # a recorded run survives a power cut
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the write lock up front, so it waits its turn (busy timeout) instead.
        writing = connection.get_execution_options().get(_WRITING, True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


def _write_ahead(cursor: sqlite3.Cursor) -> None:
    """Puts the history in WAL mode (it stays so: later connections only read that). SQLite
    does not call the busy handler for the lock this switch takes, so capture points making a
    new history at the same moment get "database is locked" at once: wait as the busy timeout
    would, with backoff."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def _postgresql_engine(target: HistoryTarget) -> Engine:
    try:
        import psycopg  # noqa: F401  (only to say plainly when the extra is missing)
    except ImportError:
        raise HistoryError(
            f"{target.label}: PostgreSQL needs psycopg 3: pip install 'auditor[postgresql]'"
        ) from None
    return create_engine(target.location, poolclass=NullPool)


def _migrate(store: HistoryStore) -> None:
    with store.reading() as connection:
        if _revision(connection) == schema.SCHEMA_REVISION:
            return  # the common case: no lock taken, Alembic not imported
    with store.transaction() as connection:
        if connection.dialect.name == "postgresql":
            # Two capture points starting at once on an empty database: one creates the tables,
            # the other waits here and then finds them made.
            connection.execute(select(text(f"pg_advisory_xact_lock({_MIGRATION_LOCK})")))
        current = _revision(connection)
        if current == schema.SCHEMA_REVISION:
            return
        if current is not None and current > schema.SCHEMA_REVISION:
            raise HistoryError(
                f"{store.target.label}: written by a newer auditor (schema {current}, this one "
                f"knows up to {schema.SCHEMA_REVISION}); upgrade the auditor"
            )
        _upgrade(connection)


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def _upgrade(connection: Connection) -> None:
    # Alembic is imported only here: opening an up-to-date history does not pay for it.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _insert_run(connection: Connection, run: RunRecord) -> int:
    policy = run.policy
    run_id = connection.execute(
        insert(schema.runs).returning(schema.runs.c.id),
        {
            "recorded_at": run.recorded_at,
            "host": run.host,
            "tool_version": run.tool_version,
            "verdict": run.verdict.value,
            "exit_status": run.exit_status,
            "complete": run.complete,
            "policy_sha256": policy.sha256 if policy else None,
            "policy_text": policy.text if policy else None,
            "policy": None if policy is None else {
                "allow": list(policy.allow),
                "deny": list(policy.deny),
                "strict": policy.strict,
                "judge_by": policy.judge_by,
            },
            "errors": list(run.errors),
            "warnings": list(run.warnings),
            "endpoints": len(run.findings),
            "violations": run.violations,
            "unknown": run.unknown,
        },
    ).scalar_one()
    if run.databases:
        connection.execute(
            insert(schema.run_databases),
            [
                {"run_id": run_id, "path": d.path, "database_type": d.database_type,
                 "build_epoch": d.build_epoch, "sha256": d.sha256}
                for d in run.databases
            ],
        )
    capture_ids = dict(
        zip(
            (capture.path for capture in run.captures),
            _insert_many(connection, schema.run_captures, [
                {"run_id": run_id, "path": c.path, "size": c.size, "sha256": c.sha256,
                 "verdict": c.verdict.value, "complete": c.complete, "packets": c.packets}
                for c in run.captures
            ]),
            strict=True,
        )
    )
    # In batches, in the findings' order (ids ascending as before): rows, ids and links of a
    # million findings never sit in memory at once; the transaction is still the run's one.
    findings = iter(run.findings)
    while batch := list(itertools.islice(findings, _FINDING_BATCH)):
        _insert_findings(connection, run_id, capture_ids, batch)
    return int(run_id)


_FINDING_BATCH = 5_000


def _insert_findings(
    connection: Connection, run_id: int, capture_ids: dict[str, int], batch: list[FindingRecord]
) -> None:
    finding_ids = _insert_many(connection, schema.findings, [
        {"run_id": run_id, "ip": f.ip, "verdict": f.verdict, "reason": f.reason,
         "country": f.country, "registered_country": f.registered_country, "asn": f.asn,
         "org": f.org, "platform": f.platform, "hostnames": list(f.hostnames),
         "ports": list(f.ports), "packets": f.packets, "bytes": f.bytes}
        for f in batch
    ])
    links = [
        {"finding_id": finding_id, "capture_id": capture_ids[path]}
        for finding_id, finding in zip(finding_ids, batch, strict=True)
        for path in dict.fromkeys(finding.captures)
        if path in capture_ids
    ]
    if links:
        connection.execute(insert(schema.finding_captures), links)


def _insert_many(
    connection: Connection, table: Table, rows: list[dict[str, Any]]
) -> list[int]:
    """Inserts the rows in batches and returns their new ids, in the rows' order."""
    if not rows:
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(row_id) for row_id in connection.execute(statement, rows).scalars()]


def _reason(error: SQLAlchemyError) -> str:
    """The driver's own first line (no SQL, no parameters: they could be long or sensitive)."""
    original = getattr(error, "orig", None)
    message = str(original if original is not None else error).strip().splitlines()
    return message[0] if message else type(error).__name__
