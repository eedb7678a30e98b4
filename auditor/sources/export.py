"""Flow export as connection metadata: a collector's file of export packets, read into flows.

``audit collect`` writes every export datagram it receives into a small container file (the
evidence behind its findings, as ``audit live`` keeps a pcap), which is then read like any other
input. Flow records are one-directional (a biflow carries both): the two directions of a
conversation are paired here into one bidirectional flow, as a capture's flow table keeps it.
"""

from __future__ import annotations

import ipaddress
import math
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from auditor.errors import CaptureError
from auditor.model import CaptureResult, Flow, SourceKind
from auditor.sources.flows import TCP, FlowBuilder, FlowKey
from auditor.sources.netflow import TCP_ACK, TCP_SYN, Decoder, FlowRecord

MAGIC: Final = b"AUDITOR-FLOWEXPORT\x00\x01"  # this container, version 1
# One datagram: exporter address (16 bytes, IPv4-mapped for IPv4), exporter port, arrival
# time (microseconds since the epoch), length; then the datagram.
FRAME: Final = struct.Struct("!16sHQH")
LIMITS: Final = (
    "no server names: flow export carries no DNS answers or TLS SNI",
    "no frame numbers: flow records count packets, they do not keep them",
)
Progress = Callable[[int, int], None]


def is_export_head(head: bytes) -> bool:
    return head.startswith(MAGIC)


def write_frame(stream: BinaryIO, data: bytes, exporter: tuple[str, int], arrival: float) -> None:
    host = ipaddress.ip_address(exporter[0])
    if host.version == 4:
        host = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + host.packed)
    stream.write(FRAME.pack(host.packed, exporter[1], int(arrival * 1e6), len(data)) + data)


@dataclass(frozen=True, slots=True)
class Datagram:
    exporter: str
    data: bytes


def frames(path: str, stream: BinaryIO) -> Iterator[Datagram | int]:
    """The datagrams of a container, and at the end the offset of damage (if any)."""
    if stream.read(len(MAGIC)) != MAGIC:
        raise CaptureError(path, "not a flow export file")
    offset = len(MAGIC)
    while header := stream.read(FRAME.size):
        if len(header) < FRAME.size:
            yield offset
            return
        raw, _, _, length = FRAME.unpack(header)
        data = stream.read(length)
        if len(data) < length:
            yield offset
            return
        offset += FRAME.size + length
        host = ipaddress.IPv6Address(raw)
        yield Datagram(str(host.ipv4_mapped or host), data)


def read_export(path: str, progress: Progress | None = None) -> CaptureResult:
    decoder = Decoder()
    pairs = Pairs()
    damage = None
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; a small sequential read
    except OSError as error:
        raise CaptureError(path, f"cannot read: {error.strerror}") from error
    with stream:
        for item in frames(path, stream):
            if isinstance(item, int):
                damage = item
                break
            for record in decoder.decode(item.data, item.exporter):
                pairs.add(record)
    builder = pairs.builder()
    builder.skipped.update(decoder.skipped)
    if damage is not None:
        builder.warnings.append(f"export file cut short: stopped reading at offset {damage}")
    if decoder.templates_dropped:
        builder.warnings.append("too many templates: records of later ones were skipped")
    return builder.result(
        path, SourceKind.NETFLOW, compressed=False, complete=damage is None,
        limits=_limits(decoder, pairs),
    )


def _limits(decoder: Decoder, pairs: Pairs) -> tuple[str, ...]:
    names = {5: "NetFlow v5", 9: "NetFlow v9", 10: "IPFIX"}
    seen = ", ".join(names[v] for v in sorted(decoder.versions)) or "no export packet"
    limits = [f"flow export ({seen})", *LIMITS]
    if 5 in decoder.versions:
        limits.append("NetFlow v5 carries IPv4 flows only: IPv6 servers cannot show")
    for rate, count in sorted(pairs.sampled.items()):
        limits.append(
            f"sampled: {count} records counted 1 in {rate} packets; their packets and bytes "
            f"are scaled up by {rate} (estimates)"
        )
    return tuple(limits)


@dataclass(slots=True)
class _Direction:
    packets: int = 0
    bytes: int = 0
    first: float = math.nan
    last: float = math.nan
    flags: int = 0
    syn_first: float = math.nan  # start of the first record of this direction carrying SYN

    def count(self, packets: int, octets: int, record: FlowRecord, flags: int) -> None:
        self.packets += packets
        self.bytes += octets
        self.flags |= flags
        if not record.first >= self.first:  # also when self.first is NaN
            self.first = record.first
        if not record.last <= self.last:
            self.last = record.last
        if flags & TCP_SYN and not record.first >= self.syn_first:
            self.syn_first = record.first


class Pairs:
    """The two directions of each conversation, from one-directional flow records."""

    def __init__(self) -> None:
        self.by_key: dict[FlowKey, dict[tuple[str, int], _Direction]] = {}
        self.sampled: Counter[int] = Counter()
        self.records = 0

    def add(self, record: FlowRecord) -> None:
        self.records += 1
        scale = record.sampling
        if scale > 1:
            self.sampled[scale] += 1
        ported = record.protocol in (6, 17)
        src_port = record.src_port if ported else 0
        dst_port = record.dst_port if ported else 0
        ends = sorted(((record.src, src_port), (record.dst, dst_port)))
        key: FlowKey = (record.protocol, ends[0][0], ends[0][1], ends[1][0], ends[1][1])
        sides = self.by_key.setdefault(key, {})
        forward = sides.setdefault((record.src, src_port), _Direction())
        forward.count(record.packets * scale, record.bytes * scale, record, record.tcp_flags)
        if record.reverse_packets or record.reverse_bytes:  # an IPFIX biflow
            reverse = sides.setdefault((record.dst, dst_port), _Direction())
            reverse.count(record.reverse_packets * scale, record.reverse_bytes * scale, record,
                          record.reverse_tcp_flags)

    def builder(self) -> FlowBuilder:
        """A FlowBuilder holding the paired flows."""
        builder = FlowBuilder()
        for flow in self.flows():
            builder.add(flow)
        builder.records = self.records
        return builder

    def flows(self) -> Iterator[Flow]:
        for key, sides in self.by_key.items():
            protocol = key[0]
            ordered = sorted(sides.items(), key=lambda item: _start_order(item[1].first))
            (a, a_port), ab = ordered[0]
            (b, b_port), ba = ordered[1] if len(ordered) > 1 else (
                ((key[3], key[4]) if (key[1], key[2]) == (a, a_port) else (key[1], key[2])),
                _Direction(),
            )
            syn_ab, syn_ba = _bare_syn(ab, ba) if protocol == TCP else (False, False)
            yield Flow(
                protocol, a, a_port, b, b_port, ab.packets, ba.packets, ab.bytes, ba.bytes,
                ab.first, max(ab.last, ba.last) if not math.isnan(ba.last) else ab.last, 0,
                syn_ab, syn_ba,
            )


def _start_order(first: float) -> tuple[bool, float]:
    return math.isnan(first), 0.0 if math.isnan(first) else first


def _bare_syn(ab: _Direction, ba: _Direction) -> tuple[bool, bool]:
    """Who sent the bare SYN, as far as OR-ed TCP flags tell.

    A direction with SYN and never an ACK sent bare SYNs (unanswered, or a scan). When both
    directions carry SYN, the one whose SYN-carrying record started first opened the
    connection (the other's SYN came with its ACK). A lone direction with SYN and ACK could be
    either: the capture reader's rule (a SYN-ACK is no bare SYN) leaves it undecided too.
    """
    bare_ab = bool(ab.flags & TCP_SYN) and not ab.flags & TCP_ACK
    bare_ba = bool(ba.flags & TCP_SYN) and not ba.flags & TCP_ACK
    if bare_ab or bare_ba:
        return bare_ab, bare_ba
    if ab.flags & TCP_SYN and ba.flags & TCP_SYN:
        if ab.syn_first < ba.syn_first:
            return True, False
        if ba.syn_first < ab.syn_first:
            return False, True
    return False, False
