"""Where the CLI records a run: a history database, or the JSON-lines export (``.jsonl``).

Opened before the audit, so a history that cannot be written fails the run in seconds, not after
an hour of reading captures. Nothing here is imported unless --history is given, and SQLAlchemy
only when the history is a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from auditor.history.record import RunRecord, failed_run_record, run_record
from auditor.history.target import HistoryKind, parse_target
from auditor.model import AuditResult


class HistoryWriter(Protocol):
    def record(
        self,
        result: AuditResult,
        *,
        requested: Sequence[str],
        policy_file: str | None,
        run_error: str | None = None,  # the report could not be written: the run exited 2
    ) -> None: ...

    def record_failure(self, message: str, *, requested: Sequence[str]) -> None: ...


class JsonLinesHistory:
    """The JSON-lines file, one line per run (auditor/report/history.py writes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(
        self,
        result: AuditResult,
        *,
        requested: Sequence[str],
        policy_file: str | None,
        run_error: str | None = None,
    ) -> None:
        from auditor.report.history import append_history, history_line

        append_history(self.path, history_line(result, run_error=run_error))

    def record_failure(self, message: str, *, requested: Sequence[str]) -> None:
        from auditor.report.history import append_history, error_line

        append_history(self.path, error_line(message, list(requested)))


class DatabaseHistory:
    """A SQLite file or a PostgreSQL database, checked and migrated when opened."""

    def __init__(self, value: str) -> None:
        from auditor.history.store import open_store

        self.target = parse_target(value)
        open_store(self.target, create=True).engine.dispose()

    def record(
        self,
        result: AuditResult,
        *,
        requested: Sequence[str],
        policy_file: str | None,
        run_error: str | None = None,
    ) -> None:
        self._write(run_record(result, requested=requested, policy_file=policy_file,
                               run_error=run_error))

    def record_failure(self, message: str, *, requested: Sequence[str]) -> None:
        self._write(failed_run_record(message, requested=requested))

    def _write(self, run: RunRecord) -> None:
        from auditor.history.store import open_store

        with open_store(self.target, create=True) as store:
            store.record(run)


def open_history(value: str) -> HistoryWriter:
    if parse_target(value).kind is HistoryKind.JSON_LINES:
        return JsonLinesHistory(Path(value))
    return DatabaseHistory(value)
