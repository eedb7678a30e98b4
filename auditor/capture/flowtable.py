"""Directional flow counters filled by the readers, merged and turned into bidirectional Flows.

The table is one class in four rooms: counting here, name taps in taps.py, IP fragments in
fragments.py, and the hand-over to Flows in packed.py.
"""

from __future__ import annotations

from collections.abc import Callable

from auditor.capture import limits
from auditor.capture.columns import FlowColumns
from auditor.capture.fragments import Fragments
from auditor.capture.packed import Chunks, pair_directions
from auditor.capture.records import (
    ACK_TS,
    BYTES,
    FIRST_FRAME,
    FIRST_TS,
    LAST_TS,
    PACKETS,
    SYN,
    Orphan,
    Pending,
    Record,
    count_packet,
)
from auditor.capture.spill import Spill, width_of
from auditor.capture.taps import (
    QUIC_GATHER,
    QUIC_TAP_PACKETS,
    TAP_PACKETS,
    Gathering,
    NameTaps,
)
from auditor.capture.wiretaps import (
    TUNNEL_PROTOCOLS,
    UDP_TAP_PACKETS,
    StunEvent,
    wire_budget,
)
from auditor.model import NameSighting, SignalledAddress

INSIDE_TUNNEL = "inside a tunnel: "


class FlowTable(NameTaps, Fragments):
    """Everything one pass over (part of) a capture accumulates.

    Keys are raw bytes straight from the packet: src|dst|sport|dport (12 bytes for IPv4, 36 for
    IPv6) for TCP and UDP, src|dst (8 or 32 bytes) otherwise, one dict per IP protocol. Each
    direction has its own key; directions are paired only at the end, so a packet costs one dict
    lookup and no key normalisation.
    """

    __slots__ = (
        "depth",
        "firsts",
        "flows",
        "frags4",
        "frags6",
        "frames",
        "hello_peak",
        "hellos",
        "hellos_full",
        "inner_bytes",
        "inner_packets",
        "inner_skipped",
        "kinds",
        "link_types",
        "max_flows",
        "max_ts",
        "min_ts",
        "names_dropped",
        "orphans",
        "pending",
        "sightings",
        "signalled",
        "skipped",
        "spill",
        "stun_events",
        "stun_open",
        "stun_trips",
        "tables",
        "taps",
        "unjudged_addresses",
        "warnings",
        "when_full",
    )

    def __init__(self, max_flows: int | None = None) -> None:
        self.tables: dict[int, dict[bytes, Record]] = {6: {}, 17: {}}
        self.frags4: dict[bytes, bytes] = {}  # src|dst|proto|id -> flow key of the first fragment
        self.frags6: dict[bytes, tuple[int, bytes]] = {}  # src|dst|id -> (protocol, flow key)
        self.skipped: dict[str, int] = {}
        self.warnings: list[str] = []
        self.link_types: dict[int, None] = {}  # insertion-ordered set
        self.frames = 0
        self.flows = 0
        self.max_flows = limits.MAX_FLOWS if max_flows is None else max_flows
        self.spill = Spill()  # conversations counted per address pair once the table is full
        # Called as a direction finds the table full: a byte range read in parallel gives up
        # there (the file is then read in one pass; see parallel.py).
        self.when_full: Callable[[], None] | None = None
        self.unjudged_addresses = 0  # set by to_flows: unjudged addresses that are in no flow
        # Timestamps of records that did not go through the fast path; the fast path's are in
        # the flow records themselves.
        self.min_ts: float | None = None
        self.max_ts: float | None = None
        # None: count orphaned fragments at once (a read from the start of the file). A list:
        # this range starts mid-file, so the first fragment may be in the range before it.
        self.orphans: list[Orphan] | None = None
        # A range starting mid-file: the time of each TCP direction's first packet here when it
        # was no SYN, which may be the ACK of a SYN the range before saw (see _ack_across).
        self.firsts: dict[bytes, float] = {}
        self.taps: dict[int, dict[bytes, Record]] = {
            6: {}, 17: {}, **{proto: {} for proto in TUNNEL_PROTOCOLS}
        }  # fmt: skip
        self.sightings: dict[NameSighting, None] = {}  # insertion-ordered set
        # What the tapped packets showed beyond names (see wiretaps.py).
        self.kinds: dict[tuple[int, bytes], int] = {}  # (proto, direction) -> PayloadKind bits
        self.signalled: dict[SignalledAddress, None] = {}  # insertion-ordered set
        self.stun_open: dict[tuple[bytes, bytes], float] = {}
        self.stun_events: list[StunEvent] = []  # only in a range that starts mid-file
        self.stun_trips: dict[tuple[int, bytes], list[float]] = {}
        self.depth = 0  # tunnels the packet being decoded is inside
        self.inner_packets = 0  # packets decoded from inside tunnels
        self.inner_bytes = 0
        self.inner_skipped: dict[str, int] = {}  # why packets inside tunnels were not counted
        self.pending: dict[Pending, None] = {}  # only in a range that starts mid-file
        self.names_dropped = False
        # Split ClientHellos being gathered, by TCP direction key (see MAX_HELLO), or QUIC
        # Initials by QUIC_GATHER + UDP direction key.
        self.hellos: dict[bytes, Gathering] = {}
        self.hello_peak = 0  # the most buffers open at once, for the merge's check
        self.hellos_full = False

    def skip(self, reason: str) -> None:
        if self.depth:  # the record itself was counted (its outer packet): say so apart
            reason = f"{INSIDE_TUNNEL}{reason}"
            self.inner_skipped[reason] = self.inner_skipped.get(reason, 0) + 1
            return
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def seen(self, ts: float) -> None:
        if self.min_ts is None or ts < self.min_ts:
            self.min_ts = ts
        if self.max_ts is None or ts > self.max_ts:
            self.max_ts = ts

    def add(  # noqa: PLR0917 - per-packet call, positional on purpose
        self, proto: int, key: bytes, nbytes: int, ts: float, frame: int, syn: int
    ) -> int:
        """Count one IP packet; the fast path inlines the update half of this.

        Returns the packet's index among its direction's packets when its payload is to be
        looked at for a name (the caller then calls look()), else -1.
        """
        if self.depth:
            self.inner_packets += 1
            self.inner_bytes += nbytes
        table = self.tables.get(proto)
        if table is None:
            table = self.tables[proto] = {}
        record = table.get(key)
        if record is None:
            return self.add_untabled(proto, key, nbytes, ts, frame, syn)
        count_packet(record, nbytes, ts, syn)
        return -1

    def add_untabled(  # noqa: PLR0917 - mirrors add()
        self, proto: int, key: bytes, nbytes: int, ts: float, frame: int, syn: int
    ) -> int:
        """add() for a packet whose direction is not in ``tables``: tapped, or new. The fast
        loops call it directly (their packets are outside tunnels, and they looked the key up
        already): a port scan is nothing but new directions."""
        taps = self.taps.get(proto)
        if taps is not None:
            record = taps.get(key)
            if record is not None:
                index = int(record[PACKETS])
                # count_packet, written out: this runs for every packet of a young direction
                # (a UDP one's first 32), and a call costs as much as the counting.
                record[PACKETS] = index + 1
                record[BYTES] += nbytes
                if ts > record[LAST_TS]:
                    record[LAST_TS] = ts
                elif ts < record[FIRST_TS]:
                    record[FIRST_TS] = ts
                if syn:
                    record[SYN] = 1
                if proto == 6:
                    if index == 1 and not syn and record[SYN] and len(record) == ACK_TS:
                        record.append(ts)
                    if index + 1 >= TAP_PACKETS:
                        self.tables[6][key] = taps.pop(key)
                        if self.hellos:
                            self.hellos.pop(key, None)
                elif proto == 17:
                    if index + 1 == QUIC_TAP_PACKETS and self.hellos:
                        self.hellos.pop(QUIC_GATHER + key, None)
                    # A UDP direction's budget is UDP_TAP_PACKETS or none (see wire_budget):
                    # asked for only once it could be spent, not for every packet.
                    if index + 1 >= UDP_TAP_PACKETS and wire_budget(17, key) is not None:
                        self.tables[17][key] = taps.pop(key)
                return index
        if self.flows >= self.max_flows:
            self.spill_packets(proto, key, [1, nbytes, ts, ts, frame, syn])
            if self.when_full is not None:
                self.when_full()
            return -1
        self.flows += 1
        if proto == 6 and not syn and self.orphans is not None:
            self.firsts[key] = ts
        # Tapped: every TCP and UDP direction with ports (names, roles, STUN: see wiretaps.py)
        # and every IP-level tunnel's (its packets carry others): the protocols with taps.
        if taps is not None and (len(key) in (12, 36) or proto not in (6, 17)):
            taps[key] = [1, nbytes, ts, ts, frame, syn]
            return 0
        self.tables[proto][key] = [1, nbytes, ts, ts, frame, syn]
        return -1

    def spill_packets(self, proto: int, key: bytes, record: Record) -> None:
        """Count a direction the full table has no room for into its address pair's record
        (the capture stage's summary says so, from the spill, once reading is over)."""
        self.spill.add(
            proto, key, int(record[PACKETS]), int(record[BYTES]), record[FIRST_TS],
            record[LAST_TS], int(record[FIRST_FRAME]), int(record[SYN]),
        )  # fmt: skip

    def untap(self) -> None:
        """Put tapped records back with the others, once reading is over: the smaller dict
        into the larger (a port scan's million directions are all still tapped, and copying
        them would hold two million-key dicts at once)."""
        for proto, taps in self.taps.items():
            if not taps:
                continue
            table = self.tables.setdefault(proto, {})
            if len(taps) > len(table):
                taps.update(table)
                self.tables[proto], self.taps[proto] = taps, {}
            else:
                table.update(taps)
                taps.clear()

    def merge(self, other: FlowTable, frame_offset: int) -> None:
        """Fold in the table of the next byte range, whose frames are numbered from 1."""
        self.untap()
        other.untap()
        placed = other.place_orphans(self.frags4, self.frags6)
        before = {
            (proto, key): int(self.tables[proto][key][PACKETS])
            for _sighting, proto, key, index, _frame in other.pending
            if index >= 0 and key in self.tables.get(proto, {})
        }
        stun_before = {
            (e.proto, e.key): int(self.tables[e.proto][e.key][PACKETS])
            for e in other.stun_events
            if e.key in self.tables.get(e.proto, {})
        }
        for proto, theirs in other.tables.items():
            mine = self.tables.setdefault(proto, {})
            for key, rec in theirs.items():
                rec[FIRST_FRAME] += frame_offset
                own = mine.get(key)
                if own is None:
                    if self.flows >= self.max_flows:
                        self.spill_packets(proto, key, rec)
                        continue
                    mine[key] = rec
                    self.flows += 1
                    continue
                if proto == 6 and own[PACKETS] == 1:
                    _ack_across(own, other.firsts.get(key))
                own[PACKETS] += rec[PACKETS]
                own[BYTES] += rec[BYTES]
                own[FIRST_TS] = min(own[FIRST_TS], rec[FIRST_TS])
                own[LAST_TS] = max(own[LAST_TS], rec[LAST_TS])
                own[FIRST_FRAME] = min(own[FIRST_FRAME], rec[FIRST_FRAME])
                own[SYN] = 1 if (own[SYN] or rec[SYN]) else 0
        self.spill.merge(other.spill, frame_offset)
        other._settle_pending(self.tables, before, placed)
        self._merge_hellos(other)
        for sighting in other.sightings:
            self._keep(sighting)
        self.merge_wire(other, stun_before)
        self.names_dropped = self.names_dropped or other.names_dropped
        for reason, count in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + count
        self.warnings.extend(other.warnings)
        self.link_types.update(other.link_types)
        self.frames += other.frames
        for ts in (other.min_ts, other.max_ts):
            if ts is not None:
                self.seen(ts)
        # The fragment maps as a single pass would hold them at the end of ``other``.
        for key, flow_key in other.frags4.items():
            self.remember_fragment4(key, flow_key)
        for key, (proto, flow_key6) in other.frags6.items():
            self.remember_fragment6(key, proto, flow_key6)

    def time_span(self) -> tuple[float | None, float | None]:
        """Earliest and latest timestamps of all records (orphans were counted by seen())."""
        self.untap()
        lo, hi = self.min_ts, self.max_ts
        for table in self.tables.values():
            for rec in table.values():
                if lo is None or rec[FIRST_TS] < lo:
                    lo = rec[FIRST_TS]
                if hi is None or rec[LAST_TS] > hi:
                    hi = rec[LAST_TS]
        for pair in self.spill.records():
            lo = pair.first_ts if lo is None else min(lo, pair.first_ts)
            hi = pair.last_ts if hi is None else max(hi, pair.last_ts)
        return lo, hi

    def to_flows(self) -> FlowColumns:
        """The flows, emptying the table; call names() before this."""
        self.untap()
        self.place_orphans({}, {})  # a range read alone: nothing before it to place them by
        return self._pair()

    def _pair(self) -> FlowColumns:
        """Pair the two directions of each conversation into packed rows (about 110 bytes a
        flow, against some 260 per directional record and 450 per Flow object).

        The table is emptied as the rows are written, so the two never coexist, and a row
        shares no object with the table: its memory is whole pages again once it is emptied.
        """
        chunks = Chunks()
        for proto in list(self.tables):
            pair_directions(proto, self.tables[proto], chunks, self.kinds, self.stun_trips)
            # An emptied dict keeps its size until it is dropped: drop it now.
            self.tables[proto] = {}
        for proto, pair in self.spill.drain():
            chunks.writer(proto, width_of(pair.first_key)).add_pair(pair)
        self.tables = {6: {}, 17: {}}
        self.flows = 0
        columns = chunks.done()
        if self.spill.unjudged:
            self.unjudged_addresses = columns.missing(self.spill.unjudged)
        return columns


def _ack_across(own: Record, first: float | None) -> None:
    """A direction whose only packet so far was its SYN, continued in the next byte range: that
    range's first packet is the second, as one pass sees it (see ACK_TS). ``first`` is its time
    when it was no SYN (FlowTable.firsts), as one pass keeps it: not the range's earliest
    time, which a capture's clock going back can make another packet's."""
    if own[SYN] and first is not None and len(own) == ACK_TS:
        own.append(first)
