"""The flow table emptied into packed flows (columns.py): the two directions of each
conversation paired into one row."""

from __future__ import annotations

import mmap
from typing import Final

from auditor.capture.columns import NO_DELAY, Chunk, FlowColumns, packed_layout
from auditor.capture.records import (
    ACK_TS,
    BYTES,
    FIRST_FRAME,
    FIRST_TS,
    LAST_TS,
    PACKETS,
    SYN,
    Record,
)
from auditor.capture.spill import Pair
from auditor.capture.taps import DNS_PORT, QUIC_PORT

PACKED_CHUNK: Final = 65_536  # flows per packed chunk


class Chunks:
    """The packed chunks being filled, one open per protocol and address width."""

    def __init__(self) -> None:
        self.chunks: list[Packed] = []
        self.open: dict[tuple[int, int], Packed] = {}

    def writer(self, proto: int, width: int) -> Packed:
        writer = self.open.get((proto, width))
        if writer is None or writer.full():
            writer = self.open[proto, width] = Packed(proto, width)
            self.chunks.append(writer)
        return writer

    def done(self) -> FlowColumns:
        self.open = {}
        return FlowColumns([writer.chunk() for writer in self.chunks])


class Packed:
    """Flows of one protocol and address width, packed as columns.py reads them: the key (a
    key without ports padded with zero ports), both directions' counts, span, round trips."""

    __slots__ = ("count", "data", "layout", "offset", "proto", "room", "width")

    def __init__(self, proto: int, width: int, capacity: int = PACKED_CHUNK) -> None:
        self.proto = proto
        self.width = width
        self.layout = packed_layout(width)
        self.data = mmap.mmap(-1, max(self.layout.size * capacity, 1))
        self.count = 0
        self.offset = 0  # where the next row goes
        self.room = capacity  # rows left

    def full(self) -> bool:
        return not self.room

    def chunk(self) -> Chunk:
        return Chunk(self.proto, self.width, self.data, self.count)

    def add(
        self,
        key: bytes,
        ab: Record,
        ba: Record | None,
        kinds: int = 0,
        stun: list[float] | None = None,
    ) -> None:
        """One flow: direction ``ab`` (its first packet is the flow's first), and ``ba``, the
        other, if seen. Counts, frames and SYN flags are ints in a Record (its type says float
        for the times), so they are packed as they are: this runs once per flow."""
        at = self.offset
        self.offset = at + self.layout.size
        self.count += 1
        self.room -= 1
        stun_delay, stun_samples = (NO_DELAY, 0) if stun is None else (stun[0], int(stun[1]))
        if ba is None:  # one-way: no answer, no ACK of an answer
            self.layout.pack_into(
                self.data, at, key, ab[PACKETS], 0, ab[BYTES], 0, ab[FIRST_TS], ab[LAST_TS],
                ab[FIRST_FRAME], ab[SYN], 0, NO_DELAY, kinds, stun_delay, stun_samples, NO_DELAY,
            )  # fmt: skip
            return
        first, last = min(ab[FIRST_TS], ba[FIRST_TS]), max(ab[LAST_TS], ba[LAST_TS])
        answers = _answers_first(self.proto, key, ab, ba)
        delay = ba[FIRST_TS] - ab[FIRST_TS] if answers else NO_DELAY
        self.layout.pack_into(
            self.data, at, key, ab[PACKETS], ba[PACKETS], ab[BYTES], ba[BYTES], first, last,
            ab[FIRST_FRAME], ab[SYN], ba[SYN], delay, kinds, stun_delay, stun_samples,
            _ack_delay(ab, ba),
        )  # fmt: skip

    def add_pair(self, pair: Pair) -> None:
        """A conversation counted per address pair: a flow with its first packet's ports (no
        round trip: the pair's packets were not kept in order)."""
        at = self.offset
        self.offset = at + self.layout.size
        self.count += 1
        self.room -= 1
        self.layout.pack_into(
            self.data, at, pair.first_key, pair.packets_ab, pair.packets_ba, pair.bytes_ab,
            pair.bytes_ba, pair.first_ts, pair.last_ts, pair.first_frame, pair.syn_ab,
            pair.syn_ba, NO_DELAY, 0, NO_DELAY, 0, NO_DELAY,
        )  # fmt: skip


_ANSWERING_UDP_PORTS: Final = (DNS_PORT, QUIC_PORT)  # servers that never speak first


def _ack_delay(ab: Record, ba: Record | None) -> float:
    """From b's first packet, its SYN/ACK, to a's ACK of it (see Flow.ack_delay); a's ACK
    can only follow the SYN/ACK, so the delay is never shorter than the round trip to a."""
    if ba is None or len(ab) <= ACK_TS or ba[SYN]:
        return NO_DELAY
    if not ab[FIRST_TS] <= ba[FIRST_TS] <= ab[ACK_TS]:
        return NO_DELAY
    return ab[ACK_TS] - ba[FIRST_TS]


def _answers_first(proto: int, key: bytes, ab: Record, ba: Record) -> bool:
    """Whether b's first packet can only be an answer to a's first (see Flow.answer_delay)."""
    if ba[FIRST_TS] < ab[FIRST_TS]:
        return False
    if proto == 6:
        return bool(ab[SYN]) and not ba[SYN]
    return proto == 17 and len(key) in (12, 36) and key[-2:] in _ANSWERING_UDP_PORTS
