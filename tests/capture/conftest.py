"""Fixtures shared by the capture tests."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.capture import parallel


@pytest.fixture
def ranges(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lets small files be split, and records how many ranges each read used."""
    monkeypatch.setattr("auditor.capture.PARALLEL_MIN_BYTES", 0)
    seen: list[int] = []
    run = parallel._run

    def counting(split: parallel.Ranges, fast: bool, progress: Any) -> Any:
        seen.append(len(split.starts))
        return run(split, fast, progress)

    monkeypatch.setattr(parallel, "_run", counting)
    return seen
