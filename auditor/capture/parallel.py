"""Reading one big uncompressed capture with several processes, each over a byte range."""

from __future__ import annotations

import copy
import multiprocessing
import os
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, NamedTuple

from auditor.capture import limits, pcap
from auditor.capture.fastpath import MAX_BLOCK, MAX_CAPLEN
from auditor.capture.flowtable import MAX_HELLOS, FlowTable, Gathering
from auditor.capture.pcapng import KNOWN_BLOCKS, Damage, PcapngReader, Section
from auditor.capture.source import CHUNK, ByteSource
from auditor.errors import CaptureError

SYNC_RECORDS: Final = 16  # chained plausible records (or blocks) that make a resync point
SYNC_WINDOW: Final = SYNC_RECORDS * (16 + MAX_CAPLEN) + CHUNK

Progress = Callable[[int, int], None]


class WorkerResult(NamedTuple):
    """What reading one byte range gave."""

    table: FlowTable
    complete: bool  # read without damage
    overshot: bool  # ran past its range's end (a record across the boundary)
    section: Section | None  # the pcapng section at its end
    last_ts: float | None  # the timestamp of its last timed packet, if any
    untimed: bool  # it read simple packet blocks (no timestamp) before a timed packet


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


RangeResult = WorkerResult | Failed
# None: a range held more than its share of limits.MAX_FLOWS, and the file must be read in one pass.
# Each range gets an equal share so that the tables the parent holds while merging stay within
# MAX_FLOWS keys in all, and a capture with more flows costs no more memory read in parallel
# than in one pass (only the time of a second read).
Merged = tuple[FlowTable, bool] | None
# Reads a file on serially from a range's start: (start, section there, flow cap, timestamp of
# the last timed packet before, ClientHellos open there).
Chain = Callable[[bytes, int], bool]  # whether plausible records chain from an offset on
Rest = Callable[[int, Section | None, int, float, dict[bytes, Gathering]], tuple[FlowTable, bool]]


def read_pcap_parallel(
    name: str, header: pcap.PcapHeader, workers: int, progress: Progress | None, *, fast: bool
) -> Merged:
    ranges = split_pcap(name, header, workers)
    return merge_ranges(ranges, _run(_jobs(ranges, fast), ranges.size, progress), fast=fast)


def read_pcapng_parallel(
    name: str, workers: int, progress: Progress | None, *, fast: bool
) -> Merged:
    ranges = split_pcapng(name, workers)
    if ranges is None:  # broken start: the serial reader says precisely what is wrong
        return _rest_pcapng(name, 0, None, fast, limits.MAX_FLOWS, at_start=True)
    return merge_ranges(ranges, _run(_jobs(ranges, fast), ranges.size, progress), fast=fast)


@dataclass(frozen=True, slots=True)
class Ranges:
    """Where one uncompressed capture splits into byte ranges that are read independently.

    The public surface for readers that run the ranges elsewhere (auditor.cluster): split,
    ``read_range`` for each index anywhere, then ``merge_ranges`` in one place.
    """

    name: str
    size: int
    starts: tuple[int, ...]
    header: pcap.PcapHeader | None = None  # a pcap file's; None for pcapng
    first: Section | None = None  # a pcapng file's leading section, which later ranges assume

    @property
    def bounds(self) -> list[tuple[int, int]]:
        return _ranges(self.starts, self.size)

    @property
    def share(self) -> int:
        return limits.MAX_FLOWS // len(self.starts)


def split_pcap(name: str, header: pcap.PcapHeader, pieces: int) -> Ranges:
    size = os.path.getsize(name)
    starts = _starts(name, pcap.HEADER_SIZE, size, pieces, _pcap_chain(header), align=1)
    return Ranges(name, size, starts, header=header)


def split_pcapng(name: str, pieces: int) -> Ranges | None:
    """None when the file's start is broken (no leading section to assume)."""
    size = os.path.getsize(name)
    first = leading_section(name)
    if first is None:
        return None
    # Blocks start 4-aligned in a well-formed file.
    starts = _starts(name, 0, size, pieces, _pcapng_chain(first.endian), align=4)
    return Ranges(name, size, starts, first=first)


def _starts(
    name: str, first: int, size: int, pieces: int, chain: Chain, *, align: int
) -> tuple[int, ...]:
    starts = [first]
    with open(name, "rb") as f:
        for i in range(1, pieces):
            found = _sync(f, (size * i // pieces) & ~(align - 1), size, chain)
            if found is not None and found > starts[-1]:
                starts.append(found)
    return tuple(starts)


def read_range(ranges: Ranges, index: int, fast: bool) -> RangeResult:
    """Read range ``index``; a CaptureError comes back as its parts, raised by the merge."""
    start, stop = ranges.bounds[index]
    if ranges.header is not None:
        return _pcap_worker(ranges.name, ranges.header, start, stop, fast, ranges.share, index)
    section = None if index == 0 else copy.deepcopy(ranges.first)
    return _pcapng_worker(ranges.name, start, stop, section, fast, ranges.share, index)


def merge_ranges(ranges: Ranges, results: Sequence[RangeResult], *, fast: bool) -> Merged:
    """The ranges' results, in file order, joined as one pass would read the file."""
    name, header, starts = ranges.name, ranges.header, ranges.starts
    tables = [_raise_failed(result) for result in results]
    del results  # the merge drops ranges it reads again: hold them in one list only
    if header is not None:
        return _merge(
            tables,
            lambda start, _section, cap, _last_ts, hellos: _rest_pcap(
                name, header, start, fast, cap, hellos
            ),
            starts,
        )
    return _merge(
        tables,
        lambda start, section, cap, last_ts, hellos: _rest_pcapng(
            name, start, section, fast, cap, at_start=False, last_ts=last_ts, hellos=hellos
        ),
        starts,
        [None, *[ranges.first] * (len(starts) - 1)],
    )


def _jobs(ranges: Ranges, fast: bool) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
    return [(read_range, (ranges, index, fast)) for index in range(len(ranges.starts))]


def leading_section(name: str) -> Section | None:
    """The section header and interfaces at the start of a pcapng file, before any packet."""
    src = ByteSource(name)
    try:
        buf = src.read()
        reader = PcapngReader(src, FlowTable(), None)
        pos = 0
        while len(buf) - pos >= 12:
            endian = reader.section.endian if reader.section is not None else "<"
            btype = struct.unpack_from(endian + "I", buf, pos)[0]
            if reader.section is not None and btype not in (1, 0x0A0D0D0A):
                break
            blen = reader._block_length(buf, pos, 0)
            if len(buf) - pos < blen:
                break
            reader._block(buf, pos, blen, pos)
            pos += blen
        return reader.section
    except Damage:
        return None
    finally:
        src.close()


def _ranges(starts: Sequence[int], size: int) -> list[tuple[int, int]]:
    return list(zip(starts, [*starts[1:], size], strict=True))


def _sync(f: BinaryIO, offset: int, size: int, chain: Callable[[bytes, int], bool]) -> int | None:
    """The first offset at or after ``offset`` where a chain of plausible records starts."""
    f.seek(offset)
    window = f.read(SYNC_WINDOW)
    at_eof = offset + len(window) >= size
    limit = len(window) if at_eof else len(window) - SYNC_WINDOW + CHUNK
    for p in range(max(limit, 0)):
        if chain(window, p):
            return offset + p
    return None


def _pcap_chain(header: pcap.PcapHeader) -> Callable[[bytes, int], bool]:
    unpack = struct.Struct(header.endian + "IIII").unpack_from
    frac_limit = 1_000_000_000 if header.nano else 1_000_000

    def chain(window: bytes, p: int) -> bool:
        for _ in range(SYNC_RECORDS):
            if p == len(window):
                return True  # the chain ran exactly to the end of the file
            if len(window) - p < 16:
                return False
            _sec, frac, incl, orig = unpack(window, p)
            # Zero-length records are refused so that a run of zero bytes is no chain.
            if frac >= frac_limit or not 0 < incl <= MAX_CAPLEN or not incl <= orig <= MAX_BLOCK:
                return False
            p += 16 + incl
            if p > len(window):
                return False
        return True

    return chain


def _pcapng_chain(endian: str) -> Callable[[bytes, int], bool]:
    unpack = struct.Struct(endian + "II").unpack_from
    trailer = struct.Struct(endian + "I").unpack_from

    def chain(window: bytes, p: int) -> bool:
        if p % 4:
            return False
        for _ in range(SYNC_RECORDS):
            if p == len(window):
                return True
            if len(window) - p < 12:
                return False
            btype, blen = unpack(window, p)
            if btype not in KNOWN_BLOCKS or blen < 12 or blen % 4 or blen > len(window) - p:
                return False
            if trailer(window, p + blen - 4)[0] != blen:
                return False
            p += blen
        return True

    return chain


def _pcap_worker(  # noqa: PLR0917 - one call site, every argument needed
    name: str,
    header: pcap.PcapHeader,
    start: int,
    stop: int,
    fast: bool,
    max_flows: int,
    index: int,
) -> WorkerResult:
    src = ByteSource(name, start=start, stop=stop, progress=_slot_progress(index, start))
    try:
        ft = _range_table(index, max_flows)
        complete = pcap.read_records(src, header, ft, src.read(), fast=fast)
        return WorkerResult(ft, complete, src.overshot, None, None, False)
    finally:
        src.close()


def _pcapng_worker(  # noqa: PLR0917 - one call site, every argument needed
    name: str,
    start: int,
    stop: int,
    section: Section | None,
    fast: bool,
    max_flows: int,
    index: int,
) -> RangeResult:
    src = ByteSource(name, start=start, stop=stop, progress=_slot_progress(index, start))
    try:
        ft = _range_table(index, max_flows)
        reader = PcapngReader(src, ft, section, fast=fast)
        complete = reader.run(src.read())
        last = reader.last_ts if reader.timed else None
        untimed = reader.untimed_spbs > 0
        return WorkerResult(ft, complete, src.overshot, reader.section, last, untimed)
    except CaptureError as exc:
        return Failed.of(exc)
    finally:
        src.close()


def _raise_failed(result: RangeResult) -> WorkerResult:
    if isinstance(result, Failed):
        raise result.error()
    return result


_shared: Any = None  # per-worker bytes done, in shared memory, while a parallel read runs


def _slot_progress(slot: int, start: int) -> Callable[[int, int], None] | None:
    shared = _shared
    if shared is None:
        return None

    def report(done: int, _total: int) -> None:
        shared[slot] = done - start

    return report


def _run(
    jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]], size: int, progress: Progress | None
) -> list[RangeResult]:
    global _shared  # noqa: PLW0603 - inherited by the forked workers, never used otherwise
    context = multiprocessing.get_context("fork")
    _shared = context.Array("q", len(jobs), lock=False) if progress is not None else None
    try:
        with ProcessPoolExecutor(max_workers=len(jobs), mp_context=context) as pool:
            futures: list[Future[Any]] = [pool.submit(fn, *args) for fn, args in jobs]
            pending: set[Future[Any]] = set(futures)
            while pending:
                _done, pending_now = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                pending = set(pending_now)
                if progress is not None and _shared is not None:
                    progress(min(sum(_shared), size), size)
            results = [future.result() for future in futures]
    finally:
        _shared = None
    return results


def _merge(
    results: list[WorkerResult],
    rest: Rest,
    starts: Sequence[int],
    assumed: Sequence[Section | None] | None = None,
) -> Merged:
    """Join the ranges' tables in file order, as if one process had read the whole file.

    A range is used only if the one before it ended exactly at its start (no damage, no
    record across the boundary) and in the state it assumed, and if it saw none of the TCP
    directions whose split ClientHello is still open there (a hello across the boundary, which
    it could not gather); otherwise it is read again serially from where the previous range
    really ended, with those hellos open. Too many open hellos at once (see MAX_HELLOS) means
    one pass, like too many flows.
    """
    total, complete, overshot, section, last, _untimed = results[0]
    if total.spill or total.hellos_full:
        return None
    total.max_flows = limits.MAX_FLOWS  # the whole file's limit, now that ranges come together
    last_ts = 0.0 if last is None else last  # what one pass gives a simple packet block
    for index in range(1, len(results)):
        if not complete or overshot:
            break
        ft, _complete, _overshot, _section, last, untimed = results[index]
        if ft.hellos_full or len(total.hellos) + ft.hello_peak > MAX_HELLOS:
            return None
        if (
            (assumed is not None and section != assumed[index])
            or (untimed and last_ts)
            or total.continues_hellos(ft)
        ):
            del results[index:]  # not used: let their memory go before reading again
            del ft
            cap = max(limits.MAX_FLOWS - total.flows, 1)
            redo, redo_complete = rest(starts[index], section, cap, last_ts, total.hellos)
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


def _rest_pcap(  # noqa: PLR0917 - called through Rest
    name: str,
    header: pcap.PcapHeader,
    start: int,
    fast: bool,
    max_flows: int,
    hellos: dict[bytes, Gathering],
) -> tuple[FlowTable, bool]:
    src = ByteSource(name, start=start)
    try:
        ft = _range_table(1, max_flows, hellos)
        return ft, pcap.read_records(src, header, ft, src.read(), fast=fast)
    finally:
        src.close()


def _rest_pcapng(
    name: str,
    start: int,
    section: Section | None,
    fast: bool,
    max_flows: int,
    *,
    at_start: bool,
    last_ts: float = 0.0,
    hellos: dict[bytes, Gathering] | None = None,
) -> tuple[FlowTable, bool]:
    src = ByteSource(name, start=start)
    try:
        ft = _range_table(0 if at_start else 1, max_flows, hellos)
        reader = PcapngReader(src, ft, copy.deepcopy(section), fast=fast)
        reader.at_file_start = at_start
        reader.last_ts = last_ts
        return ft, reader.run(src.read())
    finally:
        src.close()
