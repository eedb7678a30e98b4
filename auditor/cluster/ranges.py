"""The one module that knows which parts of the capture reader a cluster runs where.

Split a capture into byte ranges, read one range, merge the ranges' results as one pass would:
auditor/capture/ keeps these as its public surface; a rename there touches this file only.
"""

from __future__ import annotations

from auditor.capture import _result, read_capture
from auditor.capture.formats import opened
from auditor.capture.parallel import RangeResult, Ranges, merge_ranges, read_range, split_ranges
from auditor.errors import CaptureError
from auditor.model import CaptureResult, SourceKind
from auditor.sources import sniff

__all__ = ["RangeResult", "Ranges", "merge", "read", "split"]

FAST = True  # the fast decoding path, as read_capture uses


def split(path: str, range_bytes: int) -> Ranges | None:
    """Ranges of about ``range_bytes``; None when the input is better read whole: not a packet
    capture (a Zeek log), compressed, smaller than two ranges, or with a start only the whole
    read can judge (it says what is wrong word for word as a local run)."""
    if sniff(path) is not SourceKind.PCAP:
        return None
    try:
        with opened(path) as (src, _head, fmt):
            if src.compressed or src.total < 2 * range_bytes:
                return None
            pieces = -(-src.total // range_bytes)
    except CaptureError:
        return None
    return split_ranges(path, fmt, pieces) if fmt.splittable else None


def read(ranges: Ranges, index: int) -> RangeResult:
    return read_range(ranges, index, FAST)


def merge(ranges: Ranges, results: list[RangeResult]) -> CaptureResult:
    """The capture as one pass reads it. Raises CaptureError, as read_capture does."""
    merged = merge_ranges(ranges, results, fast=FAST)
    if merged is None:  # a range over its share of flows: one pass, as a local read does
        return read_capture(ranges.name)
    table, complete = merged
    return _result(ranges.name, ranges.format.name, False, table, complete)


def size(ranges: Ranges, index: int) -> int:
    start, stop = ranges.bounds[index]
    return stop - start
