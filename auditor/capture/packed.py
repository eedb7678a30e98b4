"""The flow table emptied into packed flows, then into Flows: the two directions of each
conversation paired, addresses decoded once each."""

from __future__ import annotations

import ipaddress
import mmap
import struct
from collections.abc import Iterable
from typing import Final

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
from auditor.model import Flow, PayloadKind

PACKED_CHUNK: Final = 65_536  # flows per packed chunk


class Chunks:
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
        # ... then the payload kinds of both directions, b's STUN answers to a (delay, count)
        # and b's SYN/ACK to a's ACK
        self.layout = struct.Struct(f"<{key_length}sqqqqddqBBdIdqd")
        # Anonymous mmap rather than a bytearray: given back to the system the moment it is
        # closed, where freed heap memory would stay in the process for the Flows to pile onto.
        self.data = mmap.mmap(-1, max(self.layout.size * capacity, 1))
        self.count = 0

    def full(self) -> bool:
        return (self.count + 1) * self.layout.size > len(self.data)

    def add(
        self,
        key: bytes,
        ab: Record,
        ba: Record | None,
        kinds: int = 0,
        stun: list[float] | None = None,
    ) -> None:
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
            kinds, _NO_DELAY if stun is None else stun[0], 0 if stun is None else int(stun[1]),
            _ack_delay(ab, ba),
        )  # fmt: skip
        self.count += 1

    def add_pair(self, pair: Pair) -> None:
        """A conversation counted per address pair: a flow with its first packet's ports."""
        self.layout.pack_into(
            self.data,
            self.count * self.layout.size,
            pair.first_key,
            pair.packets_ab,
            pair.packets_ba,
            pair.bytes_ab,
            pair.bytes_ba,
            pair.first_ts,
            pair.last_ts,
            pair.first_frame,
            pair.syn_ab,
            pair.syn_ba,
            _NO_DELAY,
            0,
            _NO_DELAY,
            0,
            _NO_DELAY,
        )  # fmt: skip  (no round trip: the pair's packets were not kept in order)
        self.count += 1

    def flows(self, names: Names) -> list[Flow]:
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
                kinds,
                stun_delay,
                stun_samples,
                ack_delay,
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
                        payloads=names.kinds(kinds),
                        stun_delay=None if stun_delay < 0 else stun_delay,
                        ack_delay=None if ack_delay < 0 else ack_delay,
                        stun_samples=stun_samples,
                    )
                )
        self.data.close()
        return out


_NO_DELAY: Final = -1.0  # delays are never negative (see _answers_first)
_ANSWERING_UDP_PORTS: Final = (DNS_PORT, QUIC_PORT)  # servers that never speak first


def _ack_delay(ab: Record, ba: Record | None) -> float:
    """From b's first packet, its SYN/ACK, to a's ACK of it (see Flow.ack_delay); a's ACK
    can only follow the SYN/ACK, so the delay is never shorter than the round trip to a."""
    if ba is None or len(ab) <= ACK_TS or ba[SYN]:
        return _NO_DELAY
    if not ab[FIRST_TS] <= ba[FIRST_TS] <= ab[ACK_TS]:
        return _NO_DELAY
    return ab[ACK_TS] - ba[FIRST_TS]


def _answers_first(proto: int, key: bytes, ab: Record, ba: Record) -> bool:
    """Whether b's first packet can only be an answer to a's first (see Flow.answer_delay)."""
    if ba[FIRST_TS] < ab[FIRST_TS]:
        return False
    if proto == 6:
        return bool(ab[SYN]) and not ba[SYN]
    return proto == 17 and len(key) in (12, 36) and key[-2:] in _ANSWERING_UDP_PORTS


def first_frame(flow: Flow) -> int:
    return flow.first_frame


class Names:
    """Canonical text of raw addresses and the port numbers, each made once, then shared by
    every flow that has it (a distinct object per flow costs memory when flows are many)."""

    def __init__(self) -> None:
        self.addresses: dict[bytes, str] = {}
        self.ports: dict[bytes, int] = {}
        self.payloads: dict[int, PayloadKind] = {}

    def kinds(self, bits: int) -> PayloadKind:
        """The PayloadKind of some bits, made once (an enum value costs a call to build)."""
        kind = self.payloads.get(bits)
        if kind is None:
            kind = self.payloads[bits] = PayloadKind(bits)
        return kind

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
