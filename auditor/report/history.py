"""One JSON line per run, appended to a history file, for scheduled audits to keep a record."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
from pathlib import Path

from auditor.cli.status import ExitStatus
from auditor.errors import HistoryError
from auditor.model import AuditResult, Verdict
from auditor.report.escape import clean
from auditor.report.interface import RenderOptions
from auditor.report.json_format import JsonFormat, attention_json
from auditor.report.view import generated_at, sorted_findings

HISTORY_SCHEMA = "auditor.history/1"


def history_line(
    result: AuditResult, options: RenderOptions | None = None, *, run_error: str | None = None
) -> str:
    """The run in one line: what was read, the verdict, and the endpoints that need attention.

    Built from the JSON report's own parts, so the two never disagree on a field; only the
    endpoints that need attention are rendered (a million allowed ones must not sit in memory
    as one document). A `run_error` (the report could not be written) is recorded with the
    audit's result: the run then exited 2 whatever the verdict was.
    """
    report = JsonFormat(options)
    head, tail = report.parts(result)
    attention = (Verdict.VIOLATION, Verdict.UNKNOWN)
    entry = {
        "schema": HISTORY_SCHEMA,
        "generated_at": head["generated_at"],
        "verdict": head["verdict"],
        "exit_status": ExitStatus.ERROR if run_error else head["exit_status"],
        "complete": head["complete"],
        "captures": [c["path"] for c in head["captures"]],
        "errors": [*tail["errors"], *([clean(run_error)] if run_error else [])],
        "policy": {k: head["policy"][k] for k in ("allow", "deny", "strict", "judge_by")},
        "databases": [d["path"] for d in head["databases"]],
        "summary": tail["summary"],
        "attention": [
            attention_json(f) for f in
            sorted_findings(f for f in result.findings if f.judgement.verdict in attention)
        ],
    }
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"


def error_line(message: str, captures: list[str], options: RenderOptions | None = None) -> str:
    """A run that produced no result at all (a corrupt database, a bad policy) is history too:
    a scheduled audit that silently stopped recording would look like a clean one."""
    entry = {
        "schema": HISTORY_SCHEMA,
        "generated_at": generated_at(options or RenderOptions()),
        "verdict": "error",
        "exit_status": ExitStatus.ERROR,
        "complete": False,
        "captures": [clean(c) for c in captures],
        "errors": [clean(message)],
    }
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"


def append_history(path: Path, line: str) -> None:
    """Append one whole line, or nothing.

    One writer at a time across processes (flock), so concurrent runs never interleave parts of
    lines; a last line that lost its newline (a crash, a full disk before this code) is closed
    first, so it cannot swallow this one; short writes are continued; and a write that fails
    part-way (disk full, file size limit, a signal) is cut back off, so the next run does not
    glue its line onto a torn one.
    """
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as error:
        raise HistoryError(f"{path}: cannot append history: {error.strerror}") from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        _append_locked(descriptor, line.encode("utf-8"))
    except OSError as error:
        raise HistoryError(f"{path}: cannot append history: {error.strerror}") from error
    finally:
        os.close(descriptor)  # also releases the lock


def _append_locked(descriptor: int, data: bytes) -> None:
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):  # a FIFO or /dev/null: nothing to repair or cut back
        _write_all(descriptor, data)
        return
    start = info.st_size
    if start and os.pread(descriptor, 1, start - 1) != b"\n":
        data = b"\n" + data
    try:
        _write_all(descriptor, data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, start)
        raise


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        if written == 0:  # never for a file, but a loop that cannot advance must not spin
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        view = view[written:]
