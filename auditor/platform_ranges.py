"""The vendors' published address ranges (data/platform_ranges.csv), looked up by address.

The file is built by scripts/build_platform_ranges.py from pinned copies of Zoom's, Microsoft
365's, Webex's and Cloudflare's published lists and Google Cloud's and AWS's customer ranges;
it is read once, on first use. A range names
the platform (or, for a shared network, the operator) whose list it is in; where ranges nest,
the most specific one answers.

CIDR blocks either nest or are disjoint, so one sweep cuts them into disjoint segments, each
answered by its innermost range, and a lookup is one bisect over integers. Every run that meets
a public server needs the ~10k rows: the same script writes that sweep beside the CSV
(data/platform_ranges.idx, integers read in one call), tied to the CSV by its SHA-256; an index
that does not match the CSV is not used, and the CSV is swept instead.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from itertools import repeat
from typing import TypeVar

from auditor.addresses import literal_value

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")

_HEADER = "network,platform,kind"
_NONE = 0xFFFFFFFF  # a segment no range holds
_MAGIC = b"auditor-ranges/1"
_COUNTS = struct.Struct("<32sII")  # the CSV's SHA-256, IPv4 and IPv6 segment counts


class RangeKind(StrEnum):
    VENDOR = "vendor"  # the platform's own published list
    CLOUD = "cloud"  # a public cloud's customer ranges: the tenant (the app) is not known


@dataclass(frozen=True, slots=True)
class PlatformRange:
    cidr: str  # the network as the list gives it ("170.114.0.0/16")
    platform: str  # the vendor, or the cloud for RangeKind.CLOUD
    kind: RangeKind

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.cidr)


def parse_ranges(text: str) -> tuple[PlatformRange, ...]:
    """The rows of a platform_ranges.csv text; comment lines (#) and the header are skipped.
    Networks are checked when indexed (RangeIndex.of)."""
    return tuple(_parse_row(line) for line in _data_lines(text))


def _data_lines(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if line and not line.startswith("#") and line != _HEADER
    ]


@cache
def _parse_row(line: str) -> PlatformRange:
    network, platform, kind = line.split(",")
    return PlatformRange(network, platform, RangeKind(kind))


def _block(row: int, found: PlatformRange) -> tuple[int, int, int, int, int]:
    """(version, first address, prefix length, last address, row) of one range."""
    address, _, prefix = found.cidr.partition("/")
    version, first = literal_value(address)
    bits = 32 if version == 4 else 128
    prefixlen = int(prefix) if prefix else bits
    size = 1 << (bits - prefixlen) if 0 <= prefixlen <= bits else 0
    if not size or first & (size - 1):
        raise ValueError(f"{found.cidr} is not a network")
    return version, first, prefixlen, first + size - 1, row


@dataclass(frozen=True, slots=True)
class _Table:
    """Disjoint segments of one IP version, sorted: segment i runs from starts[i] up to the
    next start, and rows[i] is the row of its innermost range (_NONE: no range holds it)."""

    starts: Sequence[int]
    rows: Sequence[int]

    @classmethod
    def sweep(cls, blocks: list[tuple[int, int, int, int, int]]) -> _Table:
        """``blocks`` as _block gives them, of one version."""
        starts: list[int] = []
        rows: list[int] = []

        def begin(at: int, row: int) -> None:
            if starts and starts[-1] == at:  # an empty segment: the later answer holds
                rows[-1] = row
            elif not rows or rows[-1] != row:
                starts.append(at)
                rows.append(row)

        open_blocks: list[tuple[int, int]] = []  # (last, row), each nested in the one below

        def close_before(at: int) -> None:
            while open_blocks and open_blocks[-1][0] < at:
                last, _row = open_blocks.pop()
                begin(last + 1, open_blocks[-1][1] if open_blocks else _NONE)

        # Outer blocks before the blocks they hold; of two equal blocks the later row wins.
        for _version, first, _prefixlen, last, row in sorted(blocks):
            close_before(first)
            open_blocks.append((last, row))
            begin(first, row)
        close_before(1 << 128)
        return cls(starts, rows)

    def row_of(self, value: int) -> int:
        index = bisect.bisect_right(self.starts, value) - 1
        return self.rows[index] if index >= 0 else _NONE


@dataclass(frozen=True, slots=True)
class RangeIndex:
    v4: _Table
    v6: _Table
    lines: Sequence[str]  # the data rows ("network,platform,kind") the tables point into

    @classmethod
    def of(cls, ranges: Sequence[PlatformRange]) -> RangeIndex:
        """ValueError for a range that is no network (no address, host bits set)."""
        blocks = [_block(row, found) for row, found in enumerate(ranges)]
        return cls(
            _Table.sweep([b for b in blocks if b[0] == 4]),
            _Table.sweep([b for b in blocks if b[0] == 6]),
            [f"{r.cidr},{r.platform},{r.kind}" for r in ranges],
        )

    def lookup(self, address: str) -> PlatformRange | None:
        """The most specific published range holding ``address``, if any."""
        row = self.row_of(address)
        return None if row is None else _parse_row(self.lines[row])

    def row_of(self, address: str | bytes) -> int | None:
        """Which row's range is the most specific holding ``address`` (text, or the 4 or 16
        bytes of a packet's header), if any: endpoints alike in it are attributed alike."""
        if isinstance(address, bytes):
            version, value = 4 if len(address) == 4 else 6, int.from_bytes(address, "big")
        else:
            try:
                version, value = literal_value(address)
            except ValueError:
                return None
        row = (self.v4 if version == 4 else self.v6).row_of(value)
        return None if row == _NONE else row

    def rows_of(self, addresses: Sequence[str | bytes]) -> list[int | None]:
        """row_of each address; raw IPv4 addresses (a capture's, most servers) by maps at C
        speed: joined and read as big-endian words, each bisected, each position's row looked
        up (public-100k's 100k: ~0.04 s by a loop in Python, ~0.01 s so)."""
        values = _ipv4_values(addresses)
        if values is None:
            return list(map(self.row_of, addresses))
        at_position = [None, *(None if row == _NONE else row for row in self.v4.rows)]
        return segment_items(self.v4.starts, at_position, values)

    def to_bytes(self, csv_text: str) -> bytes:
        """The index file for the CSV ``csv_text`` (the rows this index was built from).
        ValueError for a CSV not shaped as the build script writes it: comments, the header,
        then every row."""
        if _rows_after_header(csv_text) != _data_lines(csv_text) or self.lines != _data_lines(
            csv_text
        ):
            raise ValueError("the index is for a CSV of comments, the header, then rows")
        v4, v6 = self.v4, self.v6
        return b"".join((
            _MAGIC,
            _COUNTS.pack(_digest(csv_text), len(v4.starts), len(v6.starts)),
            struct.pack(f"<{len(v4.starts)}I", *v4.starts),
            struct.pack(f"<{len(v4.rows)}I", *v4.rows),
            struct.pack(f"<{2 * len(v6.starts)}Q", *_halves(v6.starts)),
            struct.pack(f"<{len(v6.rows)}I", *v6.rows),
        ))  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes, csv_text: str) -> RangeIndex | None:
        """The index ``data`` holds, if it was written for ``csv_text``; None if not."""
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _COUNTS.size:
            return None
        digest, n4, n6 = _COUNTS.unpack_from(data, len(_MAGIC))
        offset = len(_MAGIC) + _COUNTS.size
        if digest != _digest(csv_text) or len(data) != offset + 8 * n4 + 20 * n6:
            return None
        v4_starts = struct.unpack_from(f"<{n4}I", data, offset)
        v4_rows = struct.unpack_from(f"<{n4}I", data, offset + 4 * n4)
        offset += 8 * n4
        halves = struct.unpack_from(f"<{2 * n6}Q", data, offset)
        v6_rows = struct.unpack_from(f"<{n6}I", data, offset + 16 * n6)
        v6_starts = [high << 64 | low for high, low in zip(halves[::2], halves[1::2], strict=True)]
        return cls(
            _Table(v4_starts, v4_rows), _Table(v6_starts, v6_rows), _rows_after_header(csv_text)
        )


def segment_items_in_python(
    starts: Sequence[int], items: list[T], values: list[int]
) -> list[T]:
    """items[bisect_right(starts, value)] of each value: the compiled segment_items' oracle
    (auditor/geo/_tree.c), and what runs without it."""
    return list(map(items.__getitem__, map(bisect.bisect_right, repeat(starts), values)))


def _built_segment_items() -> Callable[[Sequence[int], list[T], list[int]], list[T]]:
    try:
        from auditor.geo._tree import segment_items as compiled
    except ImportError:  # no C compiler at install, or a build older than this file
        return segment_items_in_python
    return compiled


# public-100k's 100k raw IPv4 servers among the bundled 10k IPv4 segments: ~0.05 CPU s by a
# map of bisect_right (each comparison of two ints a call), ~0.003 s compiled.
segment_items = _built_segment_items()


def _ipv4_values(addresses: Sequence[str | bytes]) -> list[int] | None:
    """Each address as an int, if every one is 4 raw bytes (an IPv4 header's); else None."""
    if _WORD is None or set(map(len, addresses)) - {4}:
        return None
    try:
        packed = b"".join(addresses)  # type: ignore[arg-type] # TypeError for any text
    except TypeError:
        return None
    words = array(_WORD, packed)
    if sys.byteorder == "little":
        words.byteswap()
    return words.tolist()


# The array typecode of a 4-byte word (an IPv4 address), if the platform has one.
_WORD = next((code for code in "IL" if array(code).itemsize == 4), None)


def _rows_after_header(csv_text: str) -> list[str]:
    return csv_text.partition(_HEADER + "\n")[2].splitlines()


def _digest(csv_text: str) -> bytes:
    return hashlib.sha256(csv_text.encode("ascii")).digest()


def _halves(values: Sequence[int]) -> list[int]:
    return [half for value in values for half in (value >> 64, value & (1 << 64) - 1)]


@cache
def bundled_ranges() -> RangeIndex:
    data = resources.files("auditor").joinpath("data")
    text = data.joinpath("platform_ranges.csv").read_text("ascii")
    try:
        index = RangeIndex.from_bytes(data.joinpath("platform_ranges.idx").read_bytes(), text)
    except FileNotFoundError:  # an install without it is slower, not wrong
        index = None
    return index if index is not None else RangeIndex.of(parse_ranges(text))
