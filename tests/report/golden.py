"""Golden-file comparison; AUDITOR_UPDATE_GOLDEN=1 rewrites the files (review the diff!)."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1":
        path.write_bytes(actual.encode("utf-8", "surrogateescape"))
        return
    assert path.exists(), f"{path} is missing: run with AUDITOR_UPDATE_GOLDEN=1 and review it"
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, f"{name} differs from its golden file"
