"""Directional flow counters filled by the readers, merged and turned into bidirectional Flows."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

from auditor.model import Flow

# One list per direction of a flow, indexed by these positions; a list (not an object) because
# the hot loop updates it in place with the cheapest operations CPython has.
PACKETS: Final = 0
BYTES: Final = 1
FIRST_TS: Final = 2
LAST_TS: Final = 3
FIRST_FRAME: Final = 4
SYN: Final = 5

MAX_FLOWS: Final = 2_000_000  # directional keys; beyond this, packets count as "overflow"
MAX_FRAGMENTS: Final = 65_536  # remembered first fragments; the oldest are forgotten first
MAX_ORPHANS: Final = 65_536  # later fragments a byte range holds back for the merge

# A later fragment whose first fragment a byte range did not see: (IP version, fragment key,
# its protocol, address-pair key, bytes, timestamp, frame).
Orphan = tuple[int, bytes, int, bytes, int, float, int]
OVERFLOW: Final = "flow table full (overflow)"

Record = list[float]  # [packets, bytes, first_ts, last_ts, first_frame, syn]; ints stay ints


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
        "link_types",
        "max_flows",
        "max_ts",
        "min_ts",
        "orphans",
        "skipped",
        "tables",
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
        self.max_flows = MAX_FLOWS if max_flows is None else max_flows
        # Timestamps of records that did not go through the fast path; the fast path's are in
        # the flow records themselves.
        self.min_ts: float | None = None
        self.max_ts: float | None = None
        # None: count orphaned fragments at once (a read from the start of the file). A list:
        # this range starts mid-file, so the first fragment may be in the range before it.
        self.orphans: list[Orphan] | None = None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def seen(self, ts: float) -> None:
        if self.min_ts is None or ts < self.min_ts:
            self.min_ts = ts
        if self.max_ts is None or ts > self.max_ts:
            self.max_ts = ts

    def add(  # noqa: PLR0917 - per-packet call, positional on purpose
        self, proto: int, key: bytes, nbytes: int, ts: float, frame: int, syn: int
    ) -> None:
        """Count one IP packet; the fast path inlines the update half of this."""
        table = self.tables.get(proto)
        if table is None:
            table = self.tables[proto] = {}
        record = table.get(key)
        if record is None:
            if self.flows >= self.max_flows:
                if OVERFLOW not in self.skipped:
                    self.warnings.append(
                        f"more than {self.max_flows} flows: later new flows counted as overflow"
                    )
                self.skip(OVERFLOW)
                return
            table[key] = [1, nbytes, ts, ts, frame, syn]
            self.flows += 1
            return
        record[PACKETS] += 1
        record[BYTES] += nbytes
        if ts > record[LAST_TS]:
            record[LAST_TS] = ts
        elif ts < record[FIRST_TS]:
            record[FIRST_TS] = ts
        if syn:
            record[SYN] = 1

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
        self.orphans.append((version, frag_key, proto, pair, nbytes, ts, frame))
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
        other.place_orphans(self.frags4, self.frags6)
        for proto, theirs in other.tables.items():
            mine = self.tables.setdefault(proto, {})
            for key, rec in theirs.items():
                rec[FIRST_FRAME] += frame_offset
                own = mine.get(key)
                if own is None:
                    if self.flows >= self.max_flows:
                        self.skipped[OVERFLOW] = self.skipped.get(OVERFLOW, 0) + int(rec[PACKETS])
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

    def place_orphans(
        self, frags4: dict[bytes, bytes], frags6: dict[bytes, tuple[int, bytes]]
    ) -> None:
        """Count held-back fragments where the previous ranges' first fragments say."""
        for version, frag_key, frag_proto, pair, nbytes, ts, frame in self.orphans or ():
            if version == 4:
                proto, key = frag_proto, frags4.get(frag_key, pair)
            else:
                proto, key = frags6.get(frag_key, (frag_proto, pair))
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

    def time_span(self) -> tuple[float | None, float | None]:
        """Earliest and latest timestamps of all records (orphans were counted by seen())."""
        lo, hi = self.min_ts, self.max_ts
        for table in self.tables.values():
            for rec in table.values():
                if lo is None or rec[FIRST_TS] < lo:
                    lo = rec[FIRST_TS]
                if hi is None or rec[LAST_TS] > hi:
                    hi = rec[LAST_TS]
        return lo, hi

    def to_flows(self) -> tuple[Flow, ...]:
        self.place_orphans({}, {})  # a range read alone: nothing before it to place them by
        return self._pair()

    def _pair(self) -> tuple[Flow, ...]:
        """Pair the two directions of each conversation and decode addresses, once per flow.

        Empties the table as it goes, so that each record is freed as its Flow is made and
        the peak stays near the size of one of the two, not both.
        """
        names = _Names()
        flows: list[Flow] = []
        for proto, table in self.tables.items():
            while table:
                key, rec = table.popitem()
                rkey = reverse_key(key)
                back = table.pop(rkey, None) if rkey != key else None
                if back is not None and back[FIRST_FRAME] < rec[FIRST_FRAME]:
                    key, rec, back = rkey, back, rec
                flows.append(_flow(proto, key, rec, back, names))
        self.tables = {6: {}, 17: {}}
        self.flows = 0
        flows.sort(key=lambda f: f.first_frame)
        return tuple(flows)


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


def _flow(proto: int, key: bytes, ab: Record, ba: Record | None, names: _Names) -> Flow:
    n = len(key)
    width = 4 if n in (8, 12) else 16
    a, b = names.address(key[:width]), names.address(key[width : 2 * width])
    if n in (12, 36):
        a_port = names.port(key[2 * width : 2 * width + 2])
        b_port = names.port(key[2 * width + 2 : 2 * width + 4])
    else:
        a_port = b_port = 0
    if ba is None:
        ba = [0, 0, ab[FIRST_TS], ab[LAST_TS], ab[FIRST_FRAME], 0]
    return Flow(
        protocol=proto,
        a=a,
        a_port=a_port,
        b=b,
        b_port=b_port,
        packets_ab=int(ab[PACKETS]),
        packets_ba=int(ba[PACKETS]),
        bytes_ab=int(ab[BYTES]),
        bytes_ba=int(ba[BYTES]),
        first_seen=float(min(ab[FIRST_TS], ba[FIRST_TS])),
        last_seen=float(max(ab[LAST_TS], ba[LAST_TS])),
        first_frame=int(ab[FIRST_FRAME]),
        syn_ab=bool(ab[SYN]),
        syn_ba=bool(ba[SYN]),
    )


def total_packets(flows: Iterable[Flow]) -> tuple[int, int]:
    packets = nbytes = 0
    for flow in flows:
        packets += flow.packets
        nbytes += flow.bytes
    return packets, nbytes
