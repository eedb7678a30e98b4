"""Counting per address pair once the flow table is full, so that no server goes unjudged.

A capture padded with a million one-packet flows must not hide the conversation after them:
once the flow table holds MAX_FLOWS directional keys, each later new conversation is counted
in one record per address pair (both directions together, its ports taken from its first
packet), far fewer than 5-tuples when the padding varies ports. Only when this table too holds
MAX_PAIRS pairs are packets left uncounted: they are tallied, with the distinct addresses they
carried, and make the capture incomplete.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.capture import limits


class Pair:
    """Both directions of one address pair. Side a is the source of the pair's first packet."""

    __slots__ = (
        "bytes_ab",
        "bytes_ba",
        "first_frame",
        "first_key",
        "first_ts",
        "last_ts",
        "packets_ab",
        "packets_ba",
        "syn_ab",
        "syn_ba",
    )

    def __init__(self, key: bytes, first_ts: float, last_ts: float, frame: int) -> None:
        self.first_key = key  # the directional key of the first packet: addresses and ports
        self.packets_ab = self.packets_ba = self.bytes_ab = self.bytes_ba = 0
        self.first_ts, self.last_ts, self.first_frame = first_ts, last_ts, frame
        self.syn_ab = self.syn_ba = 0

    def count(  # noqa: PLR0917 - mirrors Spill.add
        self, forward: bool, packets: int, nbytes: int, first: float, last: float, frame: int,
        syn: int,
    ) -> None:  # fmt: skip
        if forward:
            self.packets_ab += packets
            self.bytes_ab += nbytes
            self.syn_ab |= syn
        else:
            self.packets_ba += packets
            self.bytes_ba += nbytes
            self.syn_ba |= syn
        self.first_ts = min(self.first_ts, first)
        self.last_ts = max(self.last_ts, last)
        self.first_frame = min(self.first_frame, frame)


def width_of(key: bytes) -> int:
    """The address width of a directional key (12 or 8 bytes: IPv4; 36 or 32: IPv6)."""
    return 4 if len(key) in (8, 12) else 16


class Spill:
    """Address-pair records per IP protocol, and the tally of what did not fit."""

    __slots__ = ("max_pairs", "pairs", "size", "unjudged", "unjudged_packets")

    def __init__(self) -> None:
        self.pairs: dict[int, dict[bytes, Pair]] = {}
        self.size = 0
        self.max_pairs = limits.MAX_PAIRS
        self.unjudged_packets = 0
        self.unjudged: set[bytes] = set()  # raw addresses, at most MAX_UNJUDGED_ADDRESSES

    def __bool__(self) -> bool:
        return bool(self.size or self.unjudged_packets)

    def add(  # noqa: PLR0917 - mirrors FlowTable.add
        self, proto: int, key: bytes, packets: int, nbytes: int, first: float, last: float,
        frame: int, syn: int,
    ) -> None:  # fmt: skip
        """Count ``packets`` packets of one direction (one, or a whole directional record)."""
        width = width_of(key)
        src, dst = key[:width], key[width : 2 * width]
        pair = src + dst if src <= dst else dst + src
        table = self.pairs.get(proto)
        if table is None:
            table = self.pairs[proto] = {}
        record = table.get(pair)
        if record is None:
            if self.size >= self.max_pairs:
                self._unjudged((src, dst), packets)
                return
            self.size += 1
            record = table[pair] = Pair(key, first, last, frame)
        record.count(record.first_key[:width] == src, packets, nbytes, first, last, frame, syn)

    def _unjudged(self, addresses: tuple[bytes, bytes], packets: int) -> None:
        self.unjudged_packets += packets
        for address in addresses:
            if len(self.unjudged) < limits.MAX_UNJUDGED_ADDRESSES:
                self.unjudged.add(address)

    def merge(self, other: Spill, frame_offset: int) -> None:
        """Fold in the spill of the next byte range, whose frames are numbered from 1."""
        for proto, table in other.pairs.items():
            for record in table.values():
                key, width = record.first_key, width_of(record.first_key)
                frame = record.first_frame + frame_offset
                first, last = record.first_ts, record.last_ts
                if record.packets_ab:
                    self.add(proto, key, record.packets_ab, record.bytes_ab, first, last, frame,
                             record.syn_ab)  # fmt: skip
                if record.packets_ba:
                    back = key[width : 2 * width] + key[:width] + _swapped_ports(key, width)
                    self.add(proto, back, record.packets_ba, record.bytes_ba, first, last, frame,
                             record.syn_ba)  # fmt: skip
        self.unjudged_packets += other.unjudged_packets
        for address in other.unjudged:
            if len(self.unjudged) < limits.MAX_UNJUDGED_ADDRESSES:
                self.unjudged.add(address)
        other.pairs, other.size = {}, 0

    def drain(self) -> Iterator[tuple[int, Pair]]:
        """Every pair record with its protocol, emptying the spill."""
        while self.pairs:
            proto, table = self.pairs.popitem()
            while table:
                yield proto, table.popitem()[1]
        self.size = 0

    def records(self) -> Iterator[Pair]:
        for table in self.pairs.values():
            yield from table.values()


def _swapped_ports(key: bytes, width: int) -> bytes:
    ports = key[2 * width :]
    return ports[2:4] + ports[0:2] if ports else b""
