"""Directional flow counters filled by the readers, merged and turned into bidirectional Flows."""

from __future__ import annotations

import ipaddress
import mmap
import struct
from collections.abc import Iterable
from typing import Final, NamedTuple

from auditor.capture import limits
from auditor.capture.spill import Pair, Spill
from auditor.model import Flow, NameSighting, NameSource
from auditor.names import client_hello_sni, dns_names, tls_sni
from auditor.quic import ClientHelloCrypto, is_client_initial

# One list per direction of a flow, indexed by these positions; a list (not an object) because
# the hot loop updates it in place with the cheapest operations CPython has.
PACKETS: Final = 0
BYTES: Final = 1
FIRST_TS: Final = 2
LAST_TS: Final = 3
FIRST_FRAME: Final = 4
SYN: Final = 5

MAX_FRAGMENTS: Final = 65_536  # remembered first fragments; the oldest are forgotten first
MAX_ORPHANS: Final = 65_536  # later fragments a byte range holds back for the merge


class Orphan(NamedTuple):
    """A later fragment whose first fragment a byte range did not see, held for the merge."""

    version: int  # IP version
    frag_key: bytes
    proto: int
    pair: bytes  # address-pair key, where it goes when no first fragment is found
    nbytes: int
    ts: float
    frame: int



# Names. A directional flow is "tapped" when its payloads may name a server: UDP from port 53
# (DNS answers), TCP (a TLS ClientHello's server_name) and UDP to port 443 (the same, in QUIC
# Initials; see QUIC_TAP_PACKETS). A tapped record lives in
# ``FlowTable.taps``, not in ``tables``, so the fast path misses it and hands the packet to
# add(), which says whether to look at the payload; every other packet pays nothing for names.
# TCP is looked at for the first TAP_PACKETS packets of each direction only (a ClientHello is
# the client's first payload, after SYN and ACK, with room for retransmissions); a budget that
# depends only on the direction's packet count lets a byte range starting mid-file decide at
# the merge, exactly, which of its sightings one pass would have made.
TAP_PACKETS: Final = 8
DNS_PORT: Final = b"\x00\x35"
# QUIC: UDP to port 443 is looked at for the first QUIC_TAP_PACKETS packets of each direction
# (the client's Initials, with the ClientHello in their CRYPTO frames, come first; a
# post-quantum hello spans two). Meet's media may run on 443/udp too: after these few packets
# its direction goes back to the fast path. A ClientHello over several datagrams is gathered
# like a split TCP one, in the same buffers (keyed by QUIC_GATHER + the direction's key, so
# that a TCP and a UDP direction with the same addresses and ports stay apart), and a buffer
# still open when the budget is spent is dropped.
QUIC_PORT: Final = b"\x01\xbb"
QUIC_TAP_PACKETS: Final = 4
QUIC_GATHER: Final = b"\x11"
MAX_NAMES: Final = 100_000  # distinct sightings kept; beyond, a warning (names are <= 253 bytes)
MAX_PENDING: Final = 4 * MAX_NAMES  # sightings a mid-file range holds back for the merge
TLS_HANDSHAKE: Final = 0x16
# A ClientHello longer than its first segment (post-quantum key shares make ~1.8 KB hellos that
# span two segments, with the server_name often in the second) is gathered from the direction's
# following segments while the direction is still within TAP_PACKETS; a buffer still open when
# the direction's packet count reaches TAP_PACKETS is dropped, so every segment of a hello has
# to be among the first TAP_PACKETS - 1. Segments are placed by TCP sequence number: one at the
# expected number is appended, one that repeats bytes already held contributes only its new
# bytes (a retransmission adds nothing), one beyond a gap is held aside until the gap fills. A
# hello spanning several TLS records is not gathered (none is in practice).
MAX_HELLO: Final = 5 + 16_384  # a TLS record: header and the largest plaintext fragment
MAX_HELLOS: Final = 1_024  # open buffers at once; beyond, a warning (and one-pass reading)
HELLOS_FULL: Final = (
    f"more than {MAX_HELLOS} TLS ClientHellos split over segments or datagrams at once: "
    "later ones not read"
)
SEQ_MASK: Final = 0xFFFFFFFF
Buf = bytes | bytearray


class Pending(NamedTuple):
    """A sighting in a range starting mid-file, kept until the merge can tell whether one pass
    would have made it."""

    sighting: NameSighting
    proto: int
    key: bytes  # the flow's directional key
    packet: int  # the packet's index among its direction's packets, or -1
    frame: int


Record = list[float]  # [packets, bytes, first_ts, last_ts, first_frame, syn]; ints stay ints


def count_packet(record: Record, nbytes: int, ts: float, syn: int) -> None:
    """One more packet of a known direction (the general path; the fast loops inline this)."""
    record[PACKETS] += 1
    record[BYTES] += nbytes
    if ts > record[LAST_TS]:
        record[LAST_TS] = ts
    elif ts < record[FIRST_TS]:
        record[FIRST_TS] = ts
    if syn:
        record[SYN] = 1


class FlowTable:
    """Everything one pass over (part of) a capture accumulates.

    Keys are raw bytes straight from the packet: src|dst|sport|dport (12 bytes for IPv4, 36 for
    IPv6) for TCP and UDP, src|dst (8 or 32 bytes) otherwise, one dict per IP protocol. Each
    direction has its own key; directions are paired only at the end, so a packet costs one dict
    lookup and no key normalisation.
    """

    __slots__ = (
        "flows",
        "frags4",
        "frags6",
        "frames",
        "hello_peak",
        "hellos",
        "hellos_full",
        "link_types",
        "max_flows",
        "max_ts",
        "min_ts",
        "names_dropped",
        "orphans",
        "pending",
        "sightings",
        "skipped",
        "spill",
        "tables",
        "taps",
        "unjudged_addresses",
        "warnings",
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
        self.unjudged_addresses = 0  # set by to_flows: unjudged addresses that are in no flow
        # Timestamps of records that did not go through the fast path; the fast path's are in
        # the flow records themselves.
        self.min_ts: float | None = None
        self.max_ts: float | None = None
        # None: count orphaned fragments at once (a read from the start of the file). A list:
        # this range starts mid-file, so the first fragment may be in the range before it.
        self.orphans: list[Orphan] | None = None
        self.taps: dict[int, dict[bytes, Record]] = {6: {}, 17: {}}
        self.sightings: dict[NameSighting, None] = {}  # insertion-ordered set
        self.pending: dict[Pending, None] = {}  # only in a range that starts mid-file
        self.names_dropped = False
        # Split ClientHellos being gathered, by TCP direction key (see MAX_HELLO), or QUIC
        # Initials by QUIC_GATHER + UDP direction key.
        self.hellos: dict[bytes, Gathering] = {}
        self.hello_peak = 0  # the most buffers open at once, for the merge's check
        self.hellos_full = False

    def skip(self, reason: str) -> None:
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
        table = self.tables.get(proto)
        if table is None:
            table = self.tables[proto] = {}
        record = table.get(key)
        if record is None:
            return self._add_new_or_tapped(proto, key, nbytes, ts, frame, syn)
        count_packet(record, nbytes, ts, syn)
        return -1

    def _add_new_or_tapped(  # noqa: PLR0917 - mirrors add()
        self, proto: int, key: bytes, nbytes: int, ts: float, frame: int, syn: int
    ) -> int:
        taps = self.taps.get(proto)
        if taps is not None:
            record = taps.get(key)
            if record is not None:
                index = int(record[PACKETS])
                count_packet(record, nbytes, ts, syn)
                if proto == 6:
                    if index + 1 >= TAP_PACKETS:
                        self.tables[6][key] = taps.pop(key)
                        if self.hellos:
                            self.hellos.pop(key, None)
                elif index + 1 >= QUIC_TAP_PACKETS and _quic(key):
                    self.tables[17][key] = taps.pop(key)
                    if self.hellos:
                        self.hellos.pop(QUIC_GATHER + key, None)
                return index
        if self.flows >= self.max_flows:
            self.spill_packets(proto, key, [1, nbytes, ts, ts, frame, syn])
            return -1
        self.flows += 1
        if taps is not None and _tapped(proto, key):
            taps[key] = [1, nbytes, ts, ts, frame, syn]
            return 0
        self.tables[proto][key] = [1, nbytes, ts, ts, frame, syn]
        return -1

    def look(  # noqa: PLR0917 - called per tapped packet by both paths
        self, proto: int, key: bytes, data: Buf, l4: int, end: int, index: int, frame: int
    ) -> None:
        """Note the names in a tapped, unfragmented packet whose transport header is at
        ``data[l4]`` and whose IP packet ends at ``data[end]`` (or where the capture cut it)."""
        if proto == 17:
            if key[-4:-2] == DNS_PORT:
                for name, address, chained in dns_names(bytes(data[l4 + 8 : end])):
                    source = NameSource.CNAME if chained else NameSource.DNS
                    self._sighted(NameSighting(address, name, source), 17, key, -1, frame)
            else:
                self._look_quic(key, bytes(data[l4 + 8 : end]), index, frame)
            return
        if end - l4 < 13:
            return
        p = l4 + (data[l4 + 12] >> 4) * 4
        if p - l4 < 20 or p >= end:
            return
        hellos = self.hellos
        if hellos:
            hello = hellos.get(key)
            if isinstance(hello, Hello):
                if hello.add(int.from_bytes(data[l4 + 4 : l4 + 8], "big"), data[p:end]):
                    del hellos[key]
                    self._sni(hello.record(), key, index + 1, frame)
                return
        if data[p] != TLS_HANDSHAKE:
            return
        if end - p >= 6 and data[p + 5] == 1:  # a ClientHello: is its record whole?
            need = 5 + ((data[p + 3] << 8) | data[p + 4])
            if need > end - p:
                if need <= MAX_HELLO and index + 1 < TAP_PACKETS:
                    self._open_hello(key, int.from_bytes(data[l4 + 4 : l4 + 8], "big"), need,
                                     data[p:end])  # fmt: skip
                return
        self._sni(bytes(data[p:end]), key, index, frame)

    def _look_quic(self, key: bytes, datagram: bytes, index: int, frame: int) -> None:
        """A tapped UDP datagram to port 443: the client's Initials, with its ClientHello."""
        gather_key = QUIC_GATHER + key
        gather = self.hellos.get(gather_key) if self.hellos else None
        if not isinstance(gather, ClientHelloCrypto):
            if not is_client_initial(datagram):
                return
            gather = ClientHelloCrypto()
            whole = gather.add(datagram)
            if whole is False:
                if gather.dcid is not None and index + 1 < QUIC_TAP_PACKETS:
                    self._open_gathering(gather_key, gather)
                return
        else:
            whole = gather.add(datagram)
            if whole is False:
                return
            del self.hellos[gather_key]
            index += 1  # see _sighted
        if whole:
            server_name = client_hello_sni(gather.client_hello())
            if server_name:
                server = _address_text(key[4:8] if len(key) == 12 else key[16:32])
                sighting = NameSighting(server, server_name, NameSource.SNI)
                self._sighted(sighting, 17, key, index, frame)

    def _sni(self, record: bytes, key: bytes, index: int, frame: int) -> None:
        server_name = tls_sni(record)
        if server_name:
            server = _address_text(key[4:8] if len(key) == 12 else key[16:32])
            self._sighted(NameSighting(server, server_name, NameSource.SNI), 6, key, index, frame)

    def _open_hello(self, key: bytes, seq: int, need: int, first: Buf) -> None:
        self._open_gathering(key, Hello(seq, need, first))

    def _open_gathering(self, key: bytes, gathering: Gathering) -> None:
        if len(self.hellos) >= MAX_HELLOS:
            if not self.hellos_full:
                self.hellos_full = True
                self.warnings.append(HELLOS_FULL)
            return
        self.hellos[key] = gathering
        self.hello_peak = max(self.hello_peak, len(self.hellos))

    def continues_hellos(self, later: FlowTable) -> bool:
        """Whether a later range saw a direction that has a hello open at this one's end (it
        gathered that direction's segments or datagrams from nothing, so it must be read
        again)."""
        for gather_key in self.hellos:
            proto, key = _gathered(gather_key)
            if key in later.taps.get(proto, {}) or key in later.tables.get(proto, {}):
                return True
        return False

    def _sighted(
        self, sighting: NameSighting, proto: int, key: bytes, index: int, frame: int
    ) -> None:
        """Keep a sighting, or hold it back for the merge with the packet index that decides
        it there. A hello gathered over packets passes its last packet's index plus one: one
        pass drops the buffer as that packet arrives if it is the direction's last looked at
        (so the hello is read only if index + 1 is within the budget), where a range reading
        from mid-file, not knowing the count before it, keeps it."""
        if self.orphans is None:
            self._keep(sighting)
        elif len(self.pending) < MAX_PENDING:
            self.pending[Pending(sighting, proto, key, index, frame)] = None
        else:
            self.names_dropped = True

    def _keep(self, sighting: NameSighting) -> None:
        if sighting in self.sightings:
            return
        if len(self.sightings) >= MAX_NAMES:
            self.names_dropped = True
            return
        self.sightings[sighting] = None

    def untap(self) -> None:
        """Put tapped records back with the others, once reading is over."""
        for proto, taps in self.taps.items():
            if taps:
                self.tables.setdefault(proto, {}).update(taps)
                taps.clear()

    def names(self) -> tuple[NameSighting, ...]:
        self._settle_pending(self.tables, {}, {})  # a range read alone: nothing before it
        return tuple(self.sightings)

    def _settle_pending(
        self,
        tables: dict[int, dict[bytes, Record]],
        before: dict[tuple[int, bytes], int],
        placed: dict[tuple[int, bytes], list[int]],
    ) -> None:
        """Keep the held-back sightings one pass would have made.

        ``tables``: the merged flow table, which the sighting's flow must be in (one pass does
        not look into a flow that overflowed the table); ``before``: each TCP direction's
        packets in the ranges before this one; ``placed``: the frames of this range's held-back
        fragments counted into each direction at the merge.
        """
        for sighting, proto, key, index, frame in self.pending:
            if key not in tables.get(proto, {}):
                continue
            if index >= 0:
                earlier = sum(1 for f in placed.get((proto, key), ()) if f < frame)
                if before.get((proto, key), 0) + earlier + index >= _budget(proto):
                    continue
            self._keep(sighting)
        self.pending = {}

    def spill_packets(self, proto: int, key: bytes, record: Record) -> None:
        """Count a direction the full table has no room for into its address pair's record
        (the capture stage's summary says so, from the spill, once reading is over)."""
        self.spill.add(
            proto, key, int(record[PACKETS]), int(record[BYTES]), record[FIRST_TS],
            record[LAST_TS], int(record[FIRST_FRAME]), int(record[SYN]),
        )  # fmt: skip

    def defer_orphan(  # noqa: PLR0917 - mirrors add()
        self,
        version: int,
        frag_key: bytes,
        proto: int,
        pair: bytes,
        nbytes: int,
        ts: float,
        frame: int,
    ) -> bool:
        """Hold a later fragment back for the merge; False when it must be counted now."""
        if self.orphans is None or len(self.orphans) >= MAX_ORPHANS:
            return False
        self.orphans.append(Orphan(version, frag_key, proto, pair, nbytes, ts, frame))
        self.seen(ts)
        return True

    def remember_fragment4(self, frag_key: bytes, flow_key: bytes) -> None:
        if len(self.frags4) >= MAX_FRAGMENTS:
            del self.frags4[next(iter(self.frags4))]
        self.frags4[frag_key] = flow_key

    def remember_fragment6(self, frag_key: bytes, proto: int, flow_key: bytes) -> None:
        if len(self.frags6) >= MAX_FRAGMENTS:
            del self.frags6[next(iter(self.frags6))]
        self.frags6[frag_key] = (proto, flow_key)

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

    def _merge_hellos(self, other: FlowTable) -> None:
        """Hellos open at the end of ``other`` as one pass would hold them: ``other`` did not
        see the directions of this table's open hellos (or was read on from them), and one of
        its own is gone in one pass if its direction has used up its TAP_PACKETS there."""
        self.hellos_full = self.hellos_full or other.hellos_full
        self.hellos.update(other.hellos)
        for gather_key in list(self.hellos):
            proto, key = _gathered(gather_key)
            record = self.tables.get(proto, {}).get(key)
            if record is not None and record[PACKETS] >= _budget(proto):
                del self.hellos[gather_key]
        other.hellos = {}

    def place_orphans(
        self, frags4: dict[bytes, bytes], frags6: dict[bytes, tuple[int, bytes]]
    ) -> dict[tuple[int, bytes], list[int]]:
        """Count held-back fragments where the previous ranges' first fragments say.

        Returns the frames placed into each direction that has held-back sightings.
        """
        placed: dict[tuple[int, bytes], list[int]] = {}
        watched = {(proto, key) for _s, proto, key, _i, _f in self.pending}
        for version, frag_key, frag_proto, pair, nbytes, ts, frame in self.orphans or ():
            if version == 4:
                proto, key = frag_proto, frags4.get(frag_key, pair)
            else:
                proto, key = frags6.get(frag_key, (frag_proto, pair))
            if (proto, key) in watched:
                placed.setdefault((proto, key), []).append(frame)
            table = self.tables.setdefault(proto, {})
            record = table.get(key)
            if record is None:
                table[key] = [1, nbytes, ts, ts, frame, 0]
                self.flows += 1
                continue
            record[PACKETS] += 1
            record[BYTES] += nbytes
            record[FIRST_TS] = min(record[FIRST_TS], ts)
            record[LAST_TS] = max(record[LAST_TS], ts)
            record[FIRST_FRAME] = min(record[FIRST_FRAME], frame)
        self.orphans = None
        return placed

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

    def to_flows(self) -> tuple[Flow, ...]:
        """The flows, emptying the table; call names() before this."""
        self.untap()
        self.place_orphans({}, {})  # a range read alone: nothing before it to place them by
        return self._pair()

    def _pair(self) -> tuple[Flow, ...]:
        """Pair the two directions of each conversation and decode addresses, once per flow.

        Two steps, so that the directional table and the Flows never coexist: the table is
        emptied into packed flows (about 70 bytes each, against some 260 per directional
        record and 200 per Flow), then the packed flows become Flows, a chunk at a time.
        A Flow shares no object with the table, so the table's memory is whole pages again
        once it is emptied, rather than pinned by a float or an int a Flow still uses.
        """
        chunks = _Chunks()
        for proto in list(self.tables):
            table = self.tables[proto]
            while table:
                key, rec = table.popitem()
                rkey = reverse_key(key)
                back = table.pop(rkey, None) if rkey != key else None
                if back is not None and back[FIRST_FRAME] < rec[FIRST_FRAME]:
                    key, rec, back = rkey, back, rec
                chunks.writer(proto, len(key)).add(key, rec, back)
            # An emptied dict keeps its size until it is dropped: drop it now.
            self.tables[proto] = {}
            del table
        for proto, pair in self.spill.drain():
            chunks.writer(proto, len(pair.first_key)).add_pair(pair)
        packed = chunks.done()
        self.tables = {6: {}, 17: {}}
        self.flows = 0
        names = _Names()
        flows: list[Flow] = []
        while packed:  # each chunk is closed, its memory given back, once its Flows are made
            flows.extend(packed.pop().flows(names))
        flows.sort(key=_first_frame)
        self.unjudged_addresses = sum(1 for a in self.spill.unjudged if a not in names.addresses)
        return tuple(flows)


PACKED_CHUNK: Final = 65_536  # flows per packed chunk


class _Chunks:
    """The packed chunks being filled, one open per protocol and key length."""

    def __init__(self) -> None:
        self.chunks: list[_Packed] = []
        self.open: dict[tuple[int, int], _Packed] = {}

    def writer(self, proto: int, key_length: int) -> _Packed:
        writer = self.open.get((proto, key_length))
        if writer is None or writer.full():
            writer = self.open[proto, key_length] = _Packed(proto, key_length)
            self.chunks.append(writer)
        return writer

    def done(self) -> list[_Packed]:
        self.open = {}
        return self.chunks


class _Packed:
    """Flows of one protocol and key length, packed: key, both directions' counts, span."""

    __slots__ = ("count", "data", "key_length", "layout", "proto")

    def __init__(self, proto: int, key_length: int, capacity: int = PACKED_CHUNK) -> None:
        self.proto = proto
        self.key_length = key_length
        self.layout = struct.Struct(f"<{key_length}sqqqqddqBBd")
        # Anonymous mmap rather than a bytearray: given back to the system the moment it is
        # closed, where freed heap memory would stay in the process for the Flows to pile onto.
        self.data = mmap.mmap(-1, max(self.layout.size * capacity, 1))
        self.count = 0

    def full(self) -> bool:
        return (self.count + 1) * self.layout.size > len(self.data)

    def add(self, key: bytes, ab: Record, ba: Record | None) -> None:
        back: tuple[float, float, float]
        delay = _NO_DELAY
        if ba is None:
            first, last, back = ab[FIRST_TS], ab[LAST_TS], (0, 0, 0)
        else:
            first, last = min(ab[FIRST_TS], ba[FIRST_TS]), max(ab[LAST_TS], ba[LAST_TS])
            back = (ba[PACKETS], ba[BYTES], ba[SYN])
            if _answers_first(self.proto, key, ab, ba):
                delay = ba[FIRST_TS] - ab[FIRST_TS]
        self.layout.pack_into(
            self.data, self.count * self.layout.size, key,
            int(ab[PACKETS]), int(back[0]), int(ab[BYTES]), int(back[1]), first, last,
            int(ab[FIRST_FRAME]), 1 if ab[SYN] else 0, 1 if back[2] else 0, delay,
        )  # fmt: skip
        self.count += 1

    def add_pair(self, pair: Pair) -> None:
        """A conversation counted per address pair: a flow with its first packet's ports."""
        self.layout.pack_into(
            self.data, self.count * self.layout.size, pair.first_key,
            pair.packets_ab, pair.packets_ba, pair.bytes_ab, pair.bytes_ba, pair.first_ts,
            pair.last_ts, pair.first_frame, pair.syn_ab, pair.syn_ba, _NO_DELAY,
        )  # fmt: skip  (no round trip: the pair's packets were not kept in order)
        self.count += 1

    def flows(self, names: _Names) -> list[Flow]:
        n, proto = self.key_length, self.proto
        width = 4 if n in (8, 12) else 16
        ported = n in (12, 36)
        out: list[Flow] = []
        with memoryview(self.data) as view, view[: self.count * self.layout.size] as used:
            for (
                key,
                pab,
                pba,
                bab,
                bba,
                first,
                last,
                frame,
                syn_ab,
                syn_ba,
                delay,
            ) in self.layout.iter_unpack(used):
                a, b = names.address(key[:width]), names.address(key[width : 2 * width])
                if ported:
                    a_port = names.port(key[2 * width : 2 * width + 2])
                    b_port = names.port(key[2 * width + 2 : 2 * width + 4])
                else:
                    a_port = b_port = 0
                out.append(
                    Flow(
                        protocol=proto,
                        a=a,
                        a_port=a_port,
                        b=b,
                        b_port=b_port,
                        packets_ab=pab,
                        packets_ba=pba,
                        bytes_ab=bab,
                        bytes_ba=bba,
                        first_seen=first,
                        last_seen=first if last == first else last,
                        first_frame=frame,
                        syn_ab=bool(syn_ab),
                        syn_ba=bool(syn_ba),
                        answer_delay=None if delay < 0 else delay,
                    )
                )
        self.data.close()
        return out


class Hello:
    """A TLS ClientHello record being gathered from the segments of one TCP direction."""

    __slots__ = ("data", "held", "need", "next_seq")

    def __init__(self, seq: int, need: int, first: Buf) -> None:
        self.data = bytearray(first)
        self.need = need
        self.next_seq = (seq + len(first)) & SEQ_MASK
        self.held: dict[int, bytes] = {}  # segments beyond a gap, by sequence number

    def add(self, seq: int, payload: Buf) -> bool:
        """Place one more segment; True once the record is whole."""
        if not self._place(seq, payload):
            if len(self.held) < TAP_PACKETS and (seq - self.next_seq) & SEQ_MASK < MAX_HELLO:
                self.held[seq] = bytes(payload)
            return False
        while self.held and len(self.data) < self.need:
            for held_seq in list(self.held):
                if self._place(held_seq, self.held[held_seq]):
                    del self.held[held_seq]
                    break
            else:
                break
        return len(self.data) >= self.need

    def _place(self, seq: int, payload: Buf) -> bool:
        """Append the bytes of a segment that are new; False when it lies beyond a gap."""
        ahead = (seq - self.next_seq) & SEQ_MASK
        if ahead and ahead < 1 << 31:
            return False
        skip = (self.next_seq - seq) & SEQ_MASK
        if skip < len(payload):
            self.data += payload[skip:]
            self.next_seq = (seq + len(payload)) & SEQ_MASK
        return True

    def record(self) -> bytes:
        return bytes(self.data[: self.need])


_NO_DELAY: Final = -1.0  # delays are never negative (see _answers_first)
_ANSWERING_UDP_PORTS: Final = (DNS_PORT, QUIC_PORT)  # servers that never speak first


def _answers_first(proto: int, key: bytes, ab: Record, ba: Record) -> bool:
    """Whether b's first packet can only be an answer to a's first (see Flow.answer_delay)."""
    if ba[FIRST_TS] < ab[FIRST_TS]:
        return False
    if proto == 6:
        return bool(ab[SYN]) and not ba[SYN]
    return proto == 17 and len(key) in (12, 36) and key[-2:] in _ANSWERING_UDP_PORTS


Gathering = Hello | ClientHelloCrypto  # a ClientHello being gathered: TCP, or QUIC Initials


def _first_frame(flow: Flow) -> int:
    return flow.first_frame


def _tapped(proto: int, key: bytes) -> bool:
    n = len(key)
    if proto == 6:
        return n in (12, 36)
    return n in (12, 36) and (key[-4:-2] == DNS_PORT or key[-2:] == QUIC_PORT)


def _quic(key: bytes) -> bool:
    """Whether a tapped UDP direction is tapped for QUIC (to 443), not for DNS (from 53, which
    stays tapped throughout)."""
    return key[-4:-2] != DNS_PORT


def _budget(proto: int) -> int:
    """The packets of a direction that are looked at (DNS sightings have no budget)."""
    return TAP_PACKETS if proto == 6 else QUIC_TAP_PACKETS


def _gathered(gather_key: bytes) -> tuple[int, bytes]:
    """The protocol and direction key of a gathering buffer's key."""
    if len(gather_key) in (12, 36):
        return 6, gather_key
    return 17, gather_key[1:]


def _address_text(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw))


def reverse_key(key: bytes) -> bytes:
    n = len(key)
    if n == 12:
        return key[4:8] + key[0:4] + key[10:12] + key[8:10]
    if n == 36:
        return key[16:32] + key[0:16] + key[34:36] + key[32:34]
    half = n // 2
    return key[half:] + key[:half]


class _Names:
    """Canonical text of raw addresses and the port numbers, each made once, then shared by
    every flow that has it (a distinct object per flow costs memory when flows are many)."""

    def __init__(self) -> None:
        self.addresses: dict[bytes, str] = {}
        self.ports: dict[bytes, int] = {}

    def address(self, raw: bytes) -> str:
        text = self.addresses.get(raw)
        if text is None:
            address = ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw)
            text = self.addresses[raw] = str(address)
        return text

    def port(self, raw: bytes) -> int:
        number = self.ports.get(raw)
        if number is None:
            number = self.ports[raw] = int.from_bytes(raw, "big")
        return number


def total_packets(flows: Iterable[Flow]) -> tuple[int, int]:
    packets = nbytes = 0
    for flow in flows:
        packets += flow.packets
        nbytes += flow.bytes
    return packets, nbytes
