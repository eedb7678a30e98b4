"""Reading helpers for the capture tests: every read is checked fast path against slow path,
and the compiled loop against the pure-Python one."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.capture import _read, fastpath, read_capture
from auditor.model import CaptureResult, Flow


def read_checked(path: Path, *, parallel: bool = False) -> CaptureResult:
    """read_capture, after checking the general path alone gives exactly the same result."""
    result = read_capture(path)
    slow = _read(str(path), workers=1, progress=None, fast=False)
    assert slow == result, "fast path and general path disagree"
    with fastpath.python_loop():
        assert read_capture(path) == result, "compiled and pure-Python loops disagree"
    with pytest.MonkeyPatch.context() as mp:
        # Odd, tiny chunks: records and blocks straddle every buffer refill.
        mp.setattr("auditor.capture.source.CHUNK", 61)
        assert read_capture(path) == result, "reading in small chunks changes the result"
    if parallel:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("auditor.capture.PARALLEL_MIN_BYTES", 0)
            split = read_capture(path, workers=2)
        assert split == result, "two workers disagree with one"
    return result


def write_and_read(tmp_path: Path, data: bytes, name: str = "capture.bin") -> CaptureResult:
    path = tmp_path / name
    path.write_bytes(data)
    return read_checked(path)


def one_flow(result: CaptureResult) -> Flow:
    assert len(result.flows) == 1, result.flows
    return result.flows[0]
