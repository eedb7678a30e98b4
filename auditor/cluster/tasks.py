"""The tasks a Dask worker runs: plain functions over plain values, no Dask import.

Workers open captures by their absolute path and name them as the user did, so that their
summaries and errors read as a local run's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from auditor.audit import CaptureOutcome, capture_outcome
from auditor.cluster import ranges
from auditor.cluster.identity import Fingerprint, check, fingerprint
from auditor.errors import CaptureError
from auditor.model import CaptureResult
from auditor.sources import read_source


@dataclass(frozen=True, slots=True)
class Whole:
    """A capture read whole by the task that planned it."""

    fingerprint: Fingerprint
    outcome: CaptureOutcome


@dataclass(frozen=True, slots=True)
class Split:
    """A capture to read in byte ranges, a task each."""

    fingerprint: Fingerprint  # what the planning worker saw; every range task must see it too
    ranges: ranges.Ranges


def plan_capture(
    path: str, shown: str, expected: Fingerprint | None, code: str, range_bytes: int
) -> Whole | Split:
    """``expected`` is None when the client could not open the file itself."""
    seen = fingerprint(path)
    check(path, expected or seen, code)
    split = ranges.split(path, range_bytes)
    if split is None:
        return Whole(seen, _outcome(lambda: read_source(path), shown))
    return Split(seen, split)


def read_range(
    split: ranges.Ranges, index: int, seen: Fingerprint, code: str
) -> ranges.RangeResult:
    check(split.name, seen, code)
    return ranges.read(split, index)


def merge_ranges(
    split: ranges.Ranges,
    shown: str,
    seen: Fingerprint,
    code: str,
    results: list[ranges.RangeResult],
) -> CaptureOutcome:
    check(split.name, seen, code)  # the merge may read on from a range's start
    return _outcome(lambda: ranges.merge(split, results), shown)


def _outcome(read: Callable[[], CaptureResult], shown: str) -> CaptureOutcome:
    """The outcome of a read, named as the user named the capture, as a local run names it."""
    try:
        capture = read()
    except CaptureError as error:
        return CaptureOutcome(None, (), shown + str(error).removeprefix(error.path))
    summary = dataclasses.replace(capture.summary, path=shown)
    return capture_outcome(dataclasses.replace(capture, summary=summary))
