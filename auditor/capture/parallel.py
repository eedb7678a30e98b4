"""Reading one big uncompressed capture with several processes, each over a byte range.

Only the formats' shared surface is used here (surface.Format): where records may start (the
resync check), a reader over a byte range, and the state a range assumes at its start.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, NamedTuple

from auditor.capture import limits
from auditor.capture.fastpath import MAX_CAPLEN
from auditor.capture.flowtable import FlowTable
from auditor.capture.source import CHUNK, ByteSource
from auditor.capture.surface import Chain, Ending, Format, Resume
from auditor.capture.taps import MAX_HELLOS, Gathering
from auditor.errors import CaptureError

SYNC_RECORDS: Final = 16  # chained plausible records (or blocks) that make a resync point
SYNC_WINDOW: Final = SYNC_RECORDS * (16 + MAX_CAPLEN) + CHUNK

Progress = Callable[[int, int], None]


class WorkerResult(NamedTuple):
    """What reading one byte range gave."""

    table: FlowTable
    complete: bool  # read without damage
    overshot: bool  # ran past its range's end (a record across the boundary)
    ending: Ending  # the state it ended in, which the next range must have assumed


class Failed(NamedTuple):
    """A range that could not be read: its CaptureError in parts, as exceptions with required
    arguments do not survive pickling."""

    path: str
    reason: str
    offset: int | None

    @classmethod
    def of(cls, error: CaptureError) -> Failed:
        return cls(error.path, error.reason, error.offset)

    def error(self) -> CaptureError:
        return CaptureError(self.path, self.reason, self.offset)


class Overflowed(NamedTuple):
    """A range that held more than its share of the flow table: its reader gave up there (see
    read_range), and the file is read in one pass."""

    frames: int  # records read before it gave up


RangeResult = WorkerResult | Failed | Overflowed
# None: a range held more than its share of limits.MAX_FLOWS, and the file must be read in one pass.
# Each range gets an equal share so that the tables the parent holds while merging stay within
# MAX_FLOWS keys in all, and a capture with more flows costs no more memory read in parallel
# than in one pass (only the time of a second read).
Merged = tuple[FlowTable, bool] | None


def read_parallel(
    name: str, fmt: Format, workers: int, progress: Progress | None, *, fast: bool
) -> Merged:
    """The file read in ``workers`` byte ranges at once; None when it must be read in one pass
    (a broken pcapng start, which one pass names precisely, or too many flows)."""
    if not fmt.splittable:
        return None
    ranges = split_ranges(name, fmt, workers)
    return merge_ranges(ranges, _run(ranges, fast, progress), fast=fast)


@dataclass(frozen=True, slots=True)
class Ranges:
    """Where one uncompressed capture splits into byte ranges that are read independently.

    The public surface for readers that run the ranges elsewhere (auditor.cluster): split,
    ``read_range`` for each index anywhere, then ``merge_ranges`` in one place.
    """

    name: str
    size: int
    starts: tuple[int, ...]
    format: Format

    @property
    def bounds(self) -> list[tuple[int, int]]:
        return _ranges(self.starts, self.size)

    @property
    def share(self) -> int:
        return limits.MAX_FLOWS // len(self.starts)


def split_ranges(name: str, fmt: Format, pieces: int) -> Ranges:
    """About ``pieces`` ranges, each starting where a chain of plausible records starts."""
    size = os.path.getsize(name)
    chain = fmt.chain(SYNC_RECORDS)
    starts = [fmt.first_record]
    with open(name, "rb") as f:
        for i in range(1, pieces):
            found = _sync(f, (size * i // pieces) & ~(fmt.align - 1), size, chain)
            if found is not None and found > starts[-1]:
                starts.append(found)
    return Ranges(name, size, tuple(starts), fmt)


def read_range(
    ranges: Ranges, index: int, fast: bool, progress: Progress | None = None
) -> RangeResult:
    """Read range ``index``; a CaptureError comes back as its parts, raised by the merge.
    ``progress``: told of the bytes done in the range (in a worker: its shared slot)."""
    start, stop = ranges.bounds[index]
    resume = None if index == 0 else Resume(ranges.format.assumed)
    ft = _range_table(index, ranges.share)
    try:
        complete, overshot, ending = _read_span(
            ranges, start, stop, resume, ft, fast, progress or _slot_progress(index, start),
            give_up=True,
        )
    except CaptureError as exc:
        return Failed.of(exc)
    if ft.spill:
        # More flows than its share: the file is read again in one pass, so neither the rest
        # of the range nor its table (hundreds of MB to send to the parent) is any use.
        return Overflowed(ft.frames)
    return WorkerResult(ft, complete, overshot, ending)


def merge_ranges(ranges: Ranges, results: Sequence[RangeResult], *, fast: bool) -> Merged:
    """The ranges' results, in file order, joined as one pass would read the file."""
    tables = [_raise_failed(result) for result in results]
    del results  # the merge drops ranges it reads again: hold them in one list only
    if any(table is None for table in tables):
        return None
    return _merge([table for table in tables if table is not None], ranges, fast)


def _read_span(  # noqa: PLR0917 - internal, every argument needed
    ranges: Ranges,
    start: int,
    stop: int | None,
    resume: Resume | None,
    ft: FlowTable,
    fast: bool,
    progress: Progress | None,
    *,
    give_up: bool = False,
) -> tuple[bool, bool, Ending]:
    """Read from ``start`` to ``stop`` (or on to the end): whether it was read without damage,
    whether it ran past ``stop``, and the state it ended in. ``give_up``: stop reading once
    the table is full (the buffer in hand is still read)."""
    src = ByteSource(ranges.name, start=start, stop=stop, progress=progress)
    if give_up:
        ft.when_full = src.end_early
    try:
        reader = ranges.format.reader(src, ft, resume, fast=fast)
        complete = reader.run(src.read())
        return complete, src.overshot, reader.ending()
    finally:
        ft.when_full = None  # the table goes back to the parent; the source does not
        src.close()


def _ranges(starts: Sequence[int], size: int) -> list[tuple[int, int]]:
    return list(zip(starts, [*starts[1:], size], strict=True))


def _sync(f: BinaryIO, offset: int, size: int, chain: Chain) -> int | None:
    """The first offset at or after ``offset`` where a chain of plausible records starts."""
    f.seek(offset)
    window = f.read(SYNC_WINDOW)
    at_eof = offset + len(window) >= size
    limit = len(window) if at_eof else len(window) - SYNC_WINDOW + CHUNK
    for p in range(max(limit, 0)):
        if chain(window, p):
            return offset + p
    return None


def _raise_failed(result: RangeResult) -> WorkerResult | None:
    """The range's table, None when it overflowed, or its CaptureError raised."""
    if isinstance(result, Failed):
        raise result.error()
    return None if isinstance(result, Overflowed) else result


_shared: Any = None  # per-worker bytes done, in shared memory, while a parallel read runs


def _slot_progress(slot: int, start: int) -> Callable[[int, int], None] | None:
    shared = _shared
    if shared is None:
        return None

    def report(done: int, _total: int) -> None:
        shared[slot] = done - start

    return report


def _run(ranges: Ranges, fast: bool, progress: Progress | None) -> list[RangeResult]:
    """The first range is read in this process, the others each in a forked one: this process
    would only wait otherwise, and a process not started and a table not sent back are time
    saved (a two-worker run starts one process, not two)."""
    global _shared  # noqa: PLW0603 - inherited by the forked workers, never used otherwise
    count = len(ranges.starts)
    context = multiprocessing.get_context("fork")
    _shared = context.Array("q", count, lock=False) if progress is not None else None
    try:
        with ProcessPoolExecutor(max_workers=max(count - 1, 1), mp_context=context) as pool:
            futures: list[Future[Any]] = [
                pool.submit(read_range, ranges, index, fast) for index in range(1, count)
            ]
            first = read_range(ranges, 0, fast, _here_progress(ranges, progress))
            pending: set[Future[Any]] = set(futures)
            while pending:
                _done, pending_now = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                pending = set(pending_now)
                _report_all(ranges, progress)
            results = [first, *(future.result() for future in futures)]
    finally:
        _shared = None
    return results


def _here_progress(ranges: Ranges, progress: Progress | None) -> Progress | None:
    """The first range's progress, read here: its slot, and the whole read's so far."""
    slot = _slot_progress(0, ranges.bounds[0][0])
    if slot is None:
        return None

    def report(done: int, total: int) -> None:
        slot(done, total)
        _report_all(ranges, progress)

    return report


def _report_all(ranges: Ranges, progress: Progress | None) -> None:
    if progress is not None and _shared is not None:
        progress(min(sum(_shared), ranges.size), ranges.size)


def _merge(results: list[WorkerResult], ranges: Ranges, fast: bool) -> Merged:
    """Join the ranges' tables in file order, as if one process had read the whole file.

    A range is used only if the one before it ended exactly at its start (no damage, no
    record across the boundary) and in the state it assumed, and if it saw none of the TCP
    directions whose split ClientHello is still open there (a hello across the boundary, which
    it could not gather); otherwise it is read again serially from where the previous range
    really ended, with those hellos open. Too many open hellos at once (see MAX_HELLOS) means
    one pass, like too many flows.
    """
    total, complete, overshot, (section, last, _untimed) = results[0]
    if total.spill or total.hellos_full:
        return None
    total.max_flows = limits.MAX_FLOWS  # the whole file's limit, now that ranges come together
    last_ts = 0.0 if last is None else last  # what one pass gives a simple packet block
    for index in range(1, len(results)):
        if not complete or overshot:
            break
        ft, _complete, _overshot, (_section, last, untimed) = results[index]
        if ft.hellos_full or len(total.hellos) + ft.hello_peak > MAX_HELLOS:
            return None
        if section != ranges.format.assumed or (untimed and last_ts) or total.continues_hellos(ft):
            del results[index:]  # not used: let their memory go before reading again
            del ft
            cap = max(limits.MAX_FLOWS - total.flows, 1)
            redo, redo_complete = _read_on(
                ranges, index, Resume(section, last_ts), cap, total.hellos, fast
            )
            if redo.spill or redo.hellos_full:
                return None
            total.hellos = {}  # the re-read went on with them: its own say how they ended
            total.merge(redo, total.frames)
            return total, redo_complete
        complete, overshot, section = _complete, _overshot, _section
        if ft.spill:
            return None
        total.merge(ft, total.frames)
        if last is not None:
            last_ts = last
    return total, complete


def _read_on(  # noqa: PLR0917 - internal, every argument needed
    ranges: Ranges,
    index: int,
    resume: Resume,
    max_flows: int,
    hellos: dict[bytes, Gathering],
    fast: bool,
) -> tuple[FlowTable, bool]:
    """Read serially from range ``index``'s start to the end of the file, in the state the
    previous range really ended in, with the ClientHellos open there."""
    ft = _range_table(1, max_flows, hellos)
    complete, _overshot, _ending = _read_span(
        ranges, ranges.starts[index], None, resume, ft, fast, None
    )
    return ft, complete


def _range_table(
    index: int, max_flows: int, hellos: dict[bytes, Gathering] | None = None
) -> FlowTable:
    ft = FlowTable(max_flows)
    if index:  # starts mid-file: hold back fragments whose first may be in an earlier range
        ft.orphans = []
    if hellos:  # a serial re-read goes on gathering the hellos open where it starts
        ft.hellos = dict(hellos)
        ft.hello_peak = len(hellos)
    return ft
