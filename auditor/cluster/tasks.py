"""The tasks a Dask worker runs: plain functions over plain values, no Dask import.

Workers open captures by their absolute path and name them as the user did, so that their
summaries and errors read as a local run's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from auditor.audit import CaptureOutcome, capture_outcome, read_one
from auditor.cluster import ranges
from auditor.cluster.identity import Fingerprint, check, fingerprint
from auditor.errors import CaptureError


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
        return Whole(seen, _named(read_one(path), path, shown))
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
    try:
        capture = ranges.merge(split, results)
    except CaptureError as error:
        return _named(CaptureOutcome(None, (), str(error)), split.name, shown)
    return _named(capture_outcome(capture), split.name, shown)


def _named(outcome: CaptureOutcome, path: str, shown: str) -> CaptureOutcome:
    summary = outcome.summary
    error = outcome.error
    if error is not None and error.startswith(f"{path}: "):
        error = shown + error.removeprefix(path)
    return CaptureOutcome(
        None if summary is None else dataclasses.replace(summary, path=shown),
        outcome.endpoints,
        error,
    )
