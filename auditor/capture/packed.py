"""The flow table emptied into packed flows (columns.py): the two directions of each
conversation paired into one row."""

from __future__ import annotations

import math
import mmap
import struct
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import count, repeat
from operator import and_, is_not, itemgetter, or_
from typing import Final, cast

from auditor.capture import fastpath
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

    def add_rows(
        self,
        keys: list[bytes],
        recs: list[Record],
        backs: list[Record | None],
        kinds: Iterable[int],
        stuns: list[list[float] | None] | None,
    ) -> None:
        """Flows, written at once: direction ``recs[i]`` (its first packet is the flow's first)
        and ``backs[i]``, the other, if seen; ``stuns[i]``: b's STUN answers to a (None: no
        flow has any). Counts, frames and SYN flags are ints in a Record (its type says float
        for the times), so they are packed as they are; every field is taken by C (map and
        itemgetter) but the two delays, which need both directions."""
        count = len(keys)  # at most self.room: the caller cuts its batch to it
        at = self.offset
        self.offset = at + count * self.layout.size
        self.count += count
        self.room -= count
        others = [_NOT_SEEN if back is None else back for back in backs]
        self.packets += sum(map(_packets, recs)) + sum(map(_packets, others))
        self.bytes += sum(map(_bytes, recs)) + sum(map(_bytes, others))
        # An ACK's time is kept on a TCP direction that opened with a bare SYN only.
        acks = map(_ack_delay, recs, backs) if max(map(len, recs)) > ACK_TS else repeat(NO_DELAY)
        stun_delays: Iterable[float] = repeat(NO_DELAY)
        stun_samples: Iterable[int] = repeat(0)
        if stuns is not None:
            stun_delays = [NO_DELAY if stun is None else stun[0] for stun in stuns]
            stun_samples = [0 if stun is None else int(stun[1]) for stun in stuns]
        pack_rows = _compiled_pack_rows() if fastpath.compiled else _pack_rows
        self.data[at : self.offset] = pack_rows(
            self.layout.pack, self.layout.size, keys, recs, others,
            _answering(self.proto, keys, recs, backs), kinds, stun_delays, stun_samples, acks,
            NO_DELAY,
        )  # fmt: skip

    def add_one_way(self, keys: list[bytes], recs: list[Record], kinds: Iterable[int]) -> None:
        """Rows of flows seen in one direction only (see add_rows), written at once: every field
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
# The other direction of a flow seen one way: no packets, no bytes, no SYN, and times that are
# never the flow's first or last (min and max keep the direction's own, as they are).
_NOT_SEEN: Final[Record] = [0, 0, math.inf, -math.inf, 0, 0]


def _pack_rows(  # noqa: PLR0917 - the columns of a row, as _loop.pack_rows takes them
    pack: Callable[..., bytes],
    size: int,  # each row's, which _loop.pack_rows checks
    keys: list[bytes],
    recs: list[Record],
    others: list[Record],
    answering: Iterable[bool],
    kinds: Iterable[int],
    stun_delays: Iterable[float],
    stun_samples: Iterable[int],
    acks: Iterable[float],
    no_delay: float,
) -> bytes:
    """Packed.add_rows's rows, joined: a's and b's counts, times and flags (b: others[i], the
    all-zero direction when not seen) and the row's other columns. _loop.pack_rows is this in C.
    """
    # min and max of the two directions' times written out (as min() and max() choose:
    # the first unless the second is below, or above); the answer's delay as Flow's.
    rows = [
        pack(key, a_packets, b_packets, a_bytes, b_bytes,
             b_first if b_first < a_first else a_first, b_last if b_last > a_last else a_last,
             a_frame, a_syn, b_syn,
             b_first - a_first if answers and not b_first < a_first else no_delay,
             bits, stun_delay, samples, ack)
        for key, (a_packets, a_bytes, a_first, a_last, a_frame, a_syn),
        (b_packets, b_bytes, b_first, b_last, _b_frame, b_syn), answers, bits, stun_delay,
        samples, ack in zip(keys, map(_counts, recs), map(_counts, others), answering, kinds,
                            stun_delays, stun_samples, acks, strict=False)
    ]  # fmt: skip
    return b"".join(rows)


def _compiled_pack_rows() -> Callable[..., bytes]:
    # Imported when the compiled loops run, which they do only where they were built.
    from auditor.capture._loop import pack_rows as compiled

    return compiled


def _ack_delay(ab: Record, ba: Record | None) -> float:
    """From b's first packet, its SYN/ACK, to a's ACK of it (see Flow.ack_delay); a's ACK
    can only follow the SYN/ACK, so the delay is never shorter than the round trip to a."""
    if ba is None or len(ab) <= ACK_TS or ba[SYN]:
        return NO_DELAY
    if not ab[FIRST_TS] <= ba[FIRST_TS] <= ab[ACK_TS]:
        return NO_DELAY
    return ab[ACK_TS] - ba[FIRST_TS]


def _answering(
    proto: int, keys: list[bytes], recs: list[Record], backs: list[Record | None]
) -> Iterable[bool]:
    """Whether each flow's b, if seen, can only have answered a with its first packet, unless
    that came before a's (see Flow.answer_delay): a SYN met with no SYN, or a datagram from a
    server that never speaks first (DNS, QUIC)."""
    if proto == 6:
        return [
            back is not None and bool(ab[SYN]) and not back[SYN]
            for ab, back in zip(recs, backs, strict=True)
        ]
    if proto != 17:
        return repeat(False)
    seen = map(is_not, backs, repeat(None))
    ported = map(_PORTED.__contains__, map(len, keys))
    return map(and_, map(and_, seen, ported), map(_ANSWERING_UDP_PORTS.__contains__,
                                                  map(_last_port, keys)))  # fmt: skip


_PORTED: Final = (12, 36)  # the lengths of keys with ports
_counts = itemgetter(PACKETS, BYTES, FIRST_TS, LAST_TS, FIRST_FRAME, SYN)
_last_port = itemgetter(slice(-2, None))
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

    The rows are those, in the order, that taking the directions latest first, as
    dict.popitem gives them, one at a time writes: a pair's row where its later direction
    comes, the other direction taken with it. They are taken PAIR_BATCH at a time and each
    batch is written in C-speed steps, a batch none of whose directions has its other one (a
    port scan's SYNs) in the fewest.
    """
    pairing = _Pairing(proto, table, chunks, kinds, stun_trips)
    keys = list(table)
    while keys:
        batch = keys[-PAIR_BATCH:]
        batch.reverse()
        pairing.batch(batch)
        del keys[-PAIR_BATCH:]  # a key lives no longer than its record


@dataclass(frozen=True, slots=True)
class _Pairing:
    """One protocol's directions being paired (see pair_directions)."""

    proto: int
    table: dict[bytes, Record]
    chunks: Chunks
    kinds: dict[tuple[int, bytes], int]
    stun_trips: dict[tuple[int, bytes], list[float]]

    def batch(self, keys: list[bytes]) -> None:
        """Write the rows of these directions (the table's last, latest first)."""
        rkeys = reversed_keys(keys)
        one_length = rkeys is not None
        if rkeys is None:
            rkeys = list(map(reverse_key, keys))
        answered = self._answered(rkeys)  # asked before any is taken: a pair within counts
        # None: a direction taken already, with its other one from an earlier batch.
        recs = list(map(self.table.pop, keys, repeat(None)))
        if one_length and not answered and all(recs):
            self._one_way(keys, rkeys, cast("list[Record]", recs))
        else:
            self._two_way(keys, rkeys, recs)

    def _one_way(self, keys: list[bytes], rkeys: list[bytes], recs: list[Record]) -> None:
        """Directions of one key length none of which has its other one, nor a STUN answer."""
        bits = self._kinds(keys, rkeys)
        width, done = width_of(keys[0]), 0
        while done < len(keys):
            writer = self.chunks.writer(self.proto, width)
            end = min(len(keys), done + writer.room)
            writer.add_one_way(keys[done:end], recs[done:end], bits[done:end])
            done = end

    def _two_way(self, keys: list[bytes], rkeys: list[bytes], recs: list[Record | None]) -> None:
        """Any directions: each with its other one if seen, here or later in the table."""
        later = list(map(self.table.pop, rkeys, repeat(None)))  # those here are taken already
        partner = list(map(dict(zip(keys, count())).get, rkeys))
        pair = _compiled_pair_rows() if fastpath.compiled else pair_rows
        row_keys, row_rkeys, abs_, bas = pair(keys, rkeys, recs, later, partner)
        if not row_keys:
            return
        stuns = self._stuns(row_rkeys)
        self._write(row_keys, abs_, bas, self._kinds(row_keys, row_rkeys), stuns)

    def _write(
        self,
        keys: list[bytes],
        recs: list[Record],
        backs: list[Record | None],
        bits: list[int],
        stuns: list[list[float] | None] | None,
    ) -> None:
        """Rows into the open chunks of their address width, in order, a new chunk opened
        as one fills (keys of several widths: as each run of one width comes)."""
        done = 0
        while done < len(keys):
            width = width_of(keys[done])
            writer = self.chunks.writer(self.proto, width)
            end = min(len(keys), done + writer.room)
            end = done + _same_width(keys[done:end], width)
            writer.add_rows(keys[done:end], recs[done:end], backs[done:end], bits[done:end],
                            None if stuns is None else stuns[done:end])  # fmt: skip
            done = end

    def _kinds(self, keys: list[bytes], rkeys: list[bytes]) -> list[int]:
        """Each flow's payload kinds: both directions'."""
        kinds = self.kinds
        if not kinds:
            return [0] * len(keys)
        ab = map(kinds.get, self._keyed(keys), repeat(0))
        return list(map(or_, ab, map(kinds.get, self._keyed(rkeys), repeat(0))))

    def _stuns(self, rkeys: list[bytes]) -> list[list[float] | None] | None:
        """b's STUN answers to a, by b's key; None when no flow has any."""
        stun = self.stun_trips
        if not stun:
            return None
        return list(map(stun.get, self._keyed(rkeys)))

    def _answered(self, rkeys: list[bytes]) -> bool:
        """Whether any of these other directions was seen, or answered STUN."""
        if any(map(self.table.__contains__, rkeys)):
            return True
        stun = self.stun_trips
        return bool(stun) and any(map(stun.__contains__, self._keyed(rkeys)))

    def _keyed(self, keys: list[bytes]) -> Iterable[tuple[int, bytes]]:
        return zip(repeat(self.proto), keys)


def _same_width(keys: list[bytes], width: int) -> int:
    """How many of the keys, from the first, are of this address width; their lengths are
    compared by C when all are one (width_of per key cost ~0.03 s a 100k flows)."""
    lengths = list(map(len, keys))
    if lengths.count(lengths[0]) == len(lengths) and width_of(keys[0]) == width:
        return len(keys)
    run = list(map(width.__eq__, map(width_of, keys)))
    return len(run) if all(run) else run.index(False)


Rows = tuple[list[bytes], list[bytes], list[Record], list[Record | None]]


def pair_rows(
    keys: list[bytes],
    rkeys: list[bytes],
    recs: list[Record | None],
    later: list[Record | None],
    partner: list[int | None],
) -> Rows:
    """A batch's rows: each direction ``recs[i]`` (keyed ``keys[i]``, None when taken already)
    with its other one, ``recs[partner[i]]`` when that is in the batch, else ``later[i]`` (taken
    from further in the table, or None); a pair once, where its first direction in the batch
    comes, and the direction whose first frame came first as a. Four columns: a's key, b's
    key, a's record, b's (or None). _loop.pair_rows does the same in C."""
    row_keys: list[bytes] = []
    row_rkeys: list[bytes] = []
    abs_: list[Record] = []
    bas: list[Record | None] = []
    for i, key, rkey, rec, back, j in zip(count(), keys, rkeys, recs, later, partner):
        if rec is None or (j is not None and j < i):
            continue  # taken already, with its other direction
        other = recs[j] if j is not None and j != i else back  # the other in this batch
        if other is not None and other[FIRST_FRAME] < rec[FIRST_FRAME]:
            key, rkey, rec, other = rkey, key, other, rec  # noqa: PLW2901 - a's is the first
        row_keys.append(key)
        row_rkeys.append(rkey)  # (reverse_key is an involution: this is key's reverse)
        abs_.append(rec)
        bas.append(other)
    return row_keys, row_rkeys, abs_, bas


def _compiled_pair_rows() -> Callable[..., Rows]:
    # Imported when the compiled loops run, which they do only where they were built.
    from auditor.capture._loop import pair_rows as compiled

    return compiled


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
