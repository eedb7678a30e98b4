"""--baseline: an earlier JSON report whose violations are known, so only new ones fail."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.errors import UsageError
from auditor.policy.exceptions import Baseline
from auditor.report.json_format import SCHEMA

MAX_BASELINE_BYTES = 1 << 30  # a million endpoints are about 1 GB of report


def load_baseline(path: str) -> Baseline:
    """The (address, judged country) of every violation in an auditor JSON report: the same
    address judged in another country is a new finding."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_BASELINE_BYTES + 1)
    except OSError as error:
        raise UsageError(f"{path}: cannot read baseline report: {error.strerror}") from error
    if len(data) > MAX_BASELINE_BYTES:
        raise UsageError(f"{path}: not a baseline report: larger than {MAX_BASELINE_BYTES} bytes")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise UsageError(f"{path}: not a baseline report: not JSON ({error})") from error
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise UsageError(f"{path}: not a baseline report: no \"schema\": \"{SCHEMA}\" "
                         "(give a report written with --format json)")
    endpoints = document.get("endpoints")
    if not isinstance(endpoints, list) or not all(isinstance(e, dict) for e in endpoints):
        raise UsageError(f"{path}: not a baseline report: 'endpoints' is not a list of objects")
    known = frozenset(
        (str(e.get("ip")), e["judged_country"] if isinstance(e.get("judged_country"), str)
         else None)
        for e in endpoints if e.get("verdict") == "violation"
    )
    return Baseline(path, known)
