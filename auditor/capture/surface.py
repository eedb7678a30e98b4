"""What every capture format offers (as dpkt's pcap.Reader and pcapng.Reader share one surface):
its header, a reader over a byte range, a resync check. formats.py sniffs which one a file is;
the one-pass read and the parallel split use only this surface, never a format's insides."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

from auditor.capture.pcapng_blocks import Section

if TYPE_CHECKING:
    from auditor.capture.flowtable import FlowTable
    from auditor.capture.source import ByteSource

Chain = Callable[[bytes, int], bool]  # whether plausible records chain from an offset on


class Resume(NamedTuple):
    """The state a read starting mid-file goes on from: the pcapng section in effect there and
    the timestamp of the last timed packet before it (pcap has no such state)."""

    section: Section | None
    last_ts: float = 0.0


class Ending(NamedTuple):
    """The state a read ended in, which the next byte range must have assumed."""

    section: Section | None  # the pcapng section in effect at the end
    last_ts: float | None  # the timestamp of the last timed packet, if any
    untimed: bool  # packets without a timestamp came before any timed one


class Reader(Protocol):
    def run(self, head: bytes) -> bool:
        """Count every record from the start of ``head`` (read from the source just before) on;
        False when damage stopped the read (the warning is in the table)."""
        ...

    def ending(self) -> Ending: ...


class Format(Protocol):
    """One file's format and header."""

    @property
    def name(self) -> str: ...  # as the summary names it

    @property
    def first_record(self) -> int: ...  # the offset of the first record, after the header

    @property
    def align(self) -> int: ...  # records start at multiples of this

    @property
    def assumed(self) -> Section | None: ...  # the state a range starting mid-file assumes

    @property
    def splittable(self) -> bool: ...  # whether byte ranges can be read apart (``assumed`` known)

    def reader(
        self, src: ByteSource, ft: FlowTable, resume: Resume | None, *, fast: bool
    ) -> Reader:
        """A reader over ``src`` from the file's start (``resume`` None) or from mid-file."""
        ...

    def chain(self, records: int) -> Chain:
        """The resync check: whether ``records`` plausible records chain from an offset on."""
        ...
