"""The flow table emptied into packed flows (columns.py): the two directions of each
conversation paired into one row."""

from __future__ import annotations

import mmap
import struct
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter, or_
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
    reverse_key,
)
from auditor.capture.spill import Pair, width_of
from auditor.capture.taps import DNS_PORT, QUIC_PORT

PACKED_CHUNK: Final = 65_536  # flows per packed chunk
# Directions looked at together: while a batch has no direction's other one (a port scan's
# SYNs), it is written in C-speed steps (see pair_directions).
PAIR_BATCH: Final = 4096


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

    __slots__ = ("bytes", "count", "data", "layout", "offset", "packets", "proto", "room", "width")

    def __init__(self, proto: int, width: int, capacity: int = PACKED_CHUNK) -> None:
        self.proto = proto
        self.width = width
        self.layout = packed_layout(width)
        self.data = mmap.mmap(-1, max(self.layout.size * capacity, 1))
        self.count = 0
        # Packets and bytes of the rows, both ways, counted as they are written (cheaper than
        # reading the packed columns back: 0.3 s a million flows).
        self.packets: float = 0  # ints: a Record's type says float for its times' sake
        self.bytes: float = 0
        self.offset = 0  # where the next row goes
        self.room = capacity  # rows left

    def full(self) -> bool:
        return not self.room

    def chunk(self) -> Chunk:
        totals = int(self.packets), int(self.bytes)
        return Chunk(self.proto, self.width, self.data, self.count, totals)

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
        self.packets += ab[PACKETS]
        self.bytes += ab[BYTES]
        if ba is None:  # one-way: no answer, no ACK of an answer
            self.layout.pack_into(
                self.data, at, key, ab[PACKETS], 0, ab[BYTES], 0, ab[FIRST_TS], ab[LAST_TS],
                ab[FIRST_FRAME], ab[SYN], 0, NO_DELAY, kinds, stun_delay, stun_samples, NO_DELAY,
            )  # fmt: skip
            return
        self.packets += ba[PACKETS]
        self.bytes += ba[BYTES]
        first, last = min(ab[FIRST_TS], ba[FIRST_TS]), max(ab[LAST_TS], ba[LAST_TS])
        answers = _answers_first(self.proto, key, ab, ba)
        delay = ba[FIRST_TS] - ab[FIRST_TS] if answers else NO_DELAY
        self.layout.pack_into(
            self.data, at, key, ab[PACKETS], ba[PACKETS], ab[BYTES], ba[BYTES], first, last,
            ab[FIRST_FRAME], ab[SYN], ba[SYN], delay, kinds, stun_delay, stun_samples,
            _ack_delay(ab, ba),
        )  # fmt: skip

    def add_one_way(self, keys: list[bytes], recs: list[Record], kinds: Iterable[int]) -> None:
        """Rows of flows seen in one direction only (see add()), written at once: every field
        is taken from its record by C (map and itemgetter), not by a Python call per flow."""
        count = len(keys)  # at most self.room: the caller cuts its batch to it
        at = self.offset
        self.offset = at + count * self.layout.size
        self.count += count
        self.room -= count
        self.packets += sum(map(_packets, recs))
        self.bytes += sum(map(_bytes, recs))
        zero, none = repeat(0), repeat(NO_DELAY)
        rows = map(
            self.layout.pack, keys, map(_packets, recs), zero, map(_bytes, recs), zero,
            map(_first_ts, recs), map(_last_ts, recs), map(_first_frame, recs), map(_syn, recs),
            zero, none, kinds, none, zero, none,
        )  # fmt: skip
        self.data[at : self.offset] = b"".join(rows)

    def add_pair(self, pair: Pair) -> None:
        """A conversation counted per address pair: a flow with its first packet's ports (no
        round trip: the pair's packets were not kept in order)."""
        at = self.offset
        self.offset = at + self.layout.size
        self.count += 1
        self.room -= 1
        self.packets += pair.packets_ab + pair.packets_ba
        self.bytes += pair.bytes_ab + pair.bytes_ba
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


_packets, _bytes = itemgetter(PACKETS), itemgetter(BYTES)
_first_ts, _last_ts = itemgetter(FIRST_TS), itemgetter(LAST_TS)
_first_frame, _syn = itemgetter(FIRST_FRAME), itemgetter(SYN)


def pair_directions(
    proto: int,
    table: dict[bytes, Record],
    chunks: Chunks,
    kinds: dict[tuple[int, bytes], int],
    stun_trips: dict[tuple[int, bytes], list[float]],
) -> None:
    """Pair the two directions of each of one protocol's conversations into packed rows,
    emptying ``table`` as they are written (see FlowTable._pair).

    Directions are taken latest first, as dict.popitem gives them; a pair's row is written
    where its later direction comes, the other direction taken with it. While a batch of them
    has no other directions at all (a port scan's SYNs), it is written in C-speed steps; from
    the first batch that has one, the rest are taken one at a time.
    """
    pairing = _Pairing(proto, table, chunks, kinds, stun_trips)
    keys = list(table)
    while keys:
        batch = keys[-PAIR_BATCH:]
        batch.reverse()
        if not pairing.one_way(batch):
            break
        del keys[-PAIR_BATCH:]  # a key lives no longer than its record
    del keys
    pairing.one_at_a_time()


@dataclass(frozen=True, slots=True)
class _Pairing:
    """One protocol's directions being paired (see pair_directions)."""

    proto: int
    table: dict[bytes, Record]
    chunks: Chunks
    kinds: dict[tuple[int, bytes], int]
    stun_trips: dict[tuple[int, bytes], list[float]]

    def one_way(self, keys: list[bytes]) -> bool:
        """Write these directions (the table's last, latest first) if none has its other
        direction; False, with nothing written, if one has (or keys of several lengths)."""
        rkeys = reversed_keys(keys)
        if rkeys is None or self._answered(rkeys):
            return False
        kinds = self.kinds
        bits = [0] * len(keys)
        if kinds:
            ab = map(kinds.get, self._keyed(keys), repeat(0))
            bits = list(map(or_, ab, map(kinds.get, self._keyed(rkeys), repeat(0))))
        recs = list(map(self.table.pop, keys))
        width, done = width_of(keys[0]), 0
        while done < len(keys):
            writer = self.chunks.writer(self.proto, width)
            end = min(len(keys), done + writer.room)
            writer.add_one_way(keys[done:end], recs[done:end], bits[done:end])
            done = end
        return True

    def _answered(self, rkeys: list[bytes]) -> bool:
        """Whether any of these other directions was seen, or answered STUN."""
        if any(map(self.table.__contains__, rkeys)):
            return True
        stun = self.stun_trips
        return bool(stun) and any(map(stun.__contains__, self._keyed(rkeys)))

    def _keyed(self, keys: list[bytes]) -> Iterable[tuple[int, bytes]]:
        return zip(repeat(self.proto), keys)

    def one_at_a_time(self) -> None:
        """Every direction left with its other one, if seen, latest first."""
        table, proto, kinds, stun_trips = self.table, self.proto, self.kinds, self.stun_trips
        writers: dict[int, Packed] = {}  # by key length: the open chunk's writer
        while table:
            key, rec = table.popitem()
            rkey = reverse_key(key)
            back = table.pop(rkey, None) if rkey != key else None
            if back is not None and back[FIRST_FRAME] < rec[FIRST_FRAME]:
                key, rec, back = rkey, back, rec  # a's first packet is the flow's
                rkey = reverse_key(key)
            writer = writers.get(len(key))
            if writer is None or writer.full():
                writer = writers[len(key)] = self.chunks.writer(proto, width_of(key))
            writer.add(
                key, rec, back,
                kinds.get((proto, key), 0) | kinds.get((proto, rkey), 0) if kinds else 0,
                stun_trips.get((proto, rkey)) if stun_trips else None,  # b answering a
            )  # fmt: skip


def _halfword_moves(length: int) -> tuple[tuple[int, int], ...]:
    """(to, from) 16-bit positions that turn a key of this length into its reverse: addresses
    swapped, and ports when it has them (see records.reverse_key)."""
    words = length // 2
    ported = length in (12, 36)
    half = (words - 2) // 2 if ported else words // 2
    moves = [(i, i + half) for i in range(half)] + [(i + half, i) for i in range(half)]
    if ported:
        moves += [(words - 2, words - 1), (words - 1, words - 2)]
    return tuple(moves)


_MOVES: Final = {length: _halfword_moves(length) for length in (8, 12, 32, 36)}


def reversed_keys(keys: list[bytes]) -> list[bytes] | None:
    """reverse_key of every key, in C-speed steps: the keys joined, each 16-bit column moved as
    a whole, the result cut back into keys. None unless the keys are of one known length."""
    length = len(keys[0])
    moves = _MOVES.get(length)
    if moves is None or any(map(length.__ne__, map(len, keys))):
        return None
    joined = array("H", b"".join(keys))
    turned = array("H", bytes(len(joined) * 2))
    step = length // 2
    for to, source in moves:
        turned[to::step] = joined[source::step]
    return list(map(_first, struct.iter_unpack(f"{length}s", turned)))


_first = itemgetter(0)
