"""One JSON line per run, appended to a history file, for scheduled audits to keep a record."""

from __future__ import annotations

import json
import os
from pathlib import Path

from auditor.errors import AuditorError
from auditor.model import AuditResult, ExitStatus, Verdict
from auditor.report.escape import clean
from auditor.report.interface import RenderOptions
from auditor.report.json_format import JsonFormat
from auditor.report.view import generated_at

HISTORY_SCHEMA = "auditor.history/1"


def history_line(result: AuditResult, options: RenderOptions | None = None) -> str:
    """The run in one line: what was read, the verdict, and the endpoints that need attention.

    Built from the JSON report's own document, so the two never disagree on a field.
    """
    document = JsonFormat(options).document(result)
    attention = {Verdict.VIOLATION.value, Verdict.UNKNOWN.value}
    entry = {
        "schema": HISTORY_SCHEMA,
        "generated_at": document["generated_at"],
        "verdict": document["verdict"],
        "exit_status": document["exit_status"],
        "complete": document["complete"],
        "captures": [c["path"] for c in document["captures"]],
        "errors": document["errors"],
        "policy": {k: document["policy"][k] for k in ("allow", "deny", "strict", "judge_by")},
        "databases": [d["path"] for d in document["databases"]],
        "summary": document["summary"],
        "attention": [
            {key: e[key] for key in ("ip", "verdict", "country", "hostnames", "platform")}
            for e in document["endpoints"]
            if e["verdict"] in attention
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
    """Append one line with a single write to an O_APPEND file, so concurrent runs interleave
    whole lines, never parts of them."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise AuditorError(f"{path}: cannot append history: {error.strerror}") from error
    try:
        os.write(descriptor, line.encode("utf-8"))
    finally:
        os.close(descriptor)
