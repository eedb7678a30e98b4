"""A capture's flows kept packed, a row of numbers and raw addresses each, until someone asks
for Flow objects.

A Flow costs some 450 bytes (two address strings, boxed ints and floats) and a few
microseconds to build; a packed row about 110 bytes and nothing to build. The endpoint and
round-trip stages read the rows (see ``flow_rows``) with addresses as raw bytes, and make an
address's text once per server, at the end; Flows are made only when a caller iterates or
indexes the flows (tests, tools), in first-frame order as a tuple of them would be.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import mmap
import socket
import struct
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, filterfalse, islice, repeat
from operator import and_, is_, ne
from typing import Final, cast, overload

from auditor.capture import fastpath
from auditor.model import Flow, PayloadKind

Address = bytes | str  # raw (4 or 16 bytes) from a capture, text from other sources
# a, b, a_port, b_port, packets_ab, packets_ba, bytes_ab, bytes_ba, first_seen, last_seen,
# first_frame, syn_ab, syn_ba, answer_delay, payload kind bits, stun_delay, stun_samples,
# ack_delay; a delay below zero is none.
Row = tuple[
    Address, Address, int, int, int, int, int, int, float, float, int, int, int, float, int,
    float, int, float,
]  # fmt: skip
NO_DELAY: Final = -1.0  # delays are never negative
BATCH: Final = 65_536  # flows a batch of address pairs holds
TIMED_SAMPLE: Final = 256  # rows that tell whether a chunk's rows are mostly timed
# Everything after the key, as packed (big-endian throughout: the key's ports read as numbers).
COUNTS: Final = "qqqqddqBBdIdqd"


def packed_layout(width: int) -> struct.Struct:
    """A row as written: the key (src|dst|ports; zero ports for a protocol without them)."""
    return struct.Struct(f">{2 * width + 4}s{COUNTS}")


def row_layout(width: int) -> struct.Struct:
    """The same row as read: addresses apart, ports as numbers."""
    return struct.Struct(f">{width}s{width}sHH{COUNTS}")


class Chunk:
    """Rows of one protocol and address width in an anonymous mmap (given back to the system
    the moment it is dropped, where freed heap memory would stay with the process)."""

    __slots__ = ("count", "data", "proto", "totals", "width")

    def __init__(
        self, proto: int, width: int, data: mmap.mmap, count: int, totals: tuple[int, int]
    ) -> None:
        self.proto, self.width, self.data, self.count = proto, width, data, count
        self.totals = totals  # the rows' packets and bytes, both ways

    def rows(self) -> Iterator[Row]:
        layout = row_layout(self.width)
        with memoryview(self.data) as view, view[: self.count * layout.size] as used:
            yield from layout.iter_unpack(used)

    def timed_rows(self) -> Iterator[Row]:
        """At least the rows with a delay to time a round trip by (answer, STUN or ACK: see
        Row): the others passed over by C with only their three delays unpacked (a port
        scan's million one-way flows have none), unless most rows are timed."""
        layout = row_layout(self.width)
        at = 2 * self.width + 4 + 58  # the answer delay: after the counts, span, frame, SYNs
        delays = struct.Struct(f">{at}xd4xd8xd")  # answer, (payload kinds), STUN, (samples), ACK
        none = (NO_DELAY, NO_DELAY, NO_DELAY)
        size = layout.size
        with memoryview(self.data) as view, view[: self.count * size] as used:
            # Most rows timed (a sample of the first tells): read them all, as rows() does.
            with used[: TIMED_SAMPLE * size] as sample:
                timed_share = sum(map(ne, delays.iter_unpack(sample), repeat(none))) * size
                if timed_share * 2 > len(sample):
                    return self.rows()
            # (temporaries only: an iterator left over would keep the mapping exported)
            return iter([
                layout.unpack_from(used, offset)
                for offset in compress(range(0, self.count * size, size),
                                       map(ne, delays.iter_unpack(used), repeat(none)))
            ])  # fmt: skip

    def address_pairs(self) -> list[tuple[Address, Address]]:
        """Every row's (a, b) addresses, nothing else unpacked."""
        size = row_layout(self.width).size
        layout = struct.Struct(f">{self.width}s{self.width}s{size - 2 * self.width}x")
        with memoryview(self.data) as view, view[: self.count * size] as used:
            return list(layout.iter_unpack(used))


class FlowColumns(Sequence[Flow]):
    """A capture's flows, packed (see the module's docstring)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = tuple(chunk for chunk in chunks if chunk.count)
        self.size = sum(chunk.count for chunk in self.chunks)
        self.texts = Texts()

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> Flow: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Flow]: ...
    def __getitem__(self, index: int | slice) -> Flow | Sequence[Flow]:
        return self._flows()[index]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self._flows())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FlowColumns | tuple):
            return self._flows() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FlowColumns({self.size} flows)"

    def __reduce__(self) -> tuple[type[tuple[Flow, ...]], tuple[tuple[Flow, ...]]]:
        return tuple, (self._flows(),)  # an mmap does not pickle: the flows do

    def groups(self) -> Iterator[tuple[int, int, Iterable[Row]]]:
        """(IP protocol, IP version, rows) for every chunk."""
        for chunk in self.chunks:
            yield chunk.proto, 4 if chunk.width == 4 else 6, chunk.rows()

    def timed_groups(self) -> Iterator[tuple[int, int, Iterable[Row]]]:
        """groups(), of the rows with a delay only (see Chunk.timed_rows)."""
        for chunk in self.chunks:
            yield chunk.proto, 4 if chunk.width == 4 else 6, chunk.timed_rows()

    def totals(self) -> tuple[int, int]:
        """IP packets and bytes of every flow."""
        packets = nbytes = 0
        for chunk in self.chunks:
            chunk_packets, chunk_bytes = chunk.totals
            packets += chunk_packets
            nbytes += chunk_bytes
        return packets, nbytes

    def missing(self, addresses: Iterable[bytes]) -> int:
        """How many of these raw addresses are in no flow."""
        left = set(addresses)
        for _proto, _version, rows in self.groups():
            if not left:
                break
            for row in rows:
                left.discard(row[0])
                left.discard(row[1])
        return len(left)

    def _flows(self) -> tuple[Flow, ...]:
        flows = [
            _flow(proto, row, self.texts)
            for proto, _version, rows in self.groups()
            for row in rows
        ]
        flows.sort(key=_first_frame)
        return tuple(flows)


def _flow(proto: int, row: Row, texts: Texts) -> Flow:
    (a, b, a_port, b_port, pab, pba, bab, bba, first, last, frame, syn_ab, syn_ba, delay, kinds,
     stun_delay, stun_samples, ack_delay) = row  # fmt: skip
    return Flow(
        protocol=proto,
        a=texts.text(a),
        a_port=a_port,
        b=texts.text(b),
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
        payloads=texts.kinds(kinds),
        stun_delay=None if stun_delay < 0 else stun_delay,
        ack_delay=None if ack_delay < 0 else ack_delay,
        stun_samples=stun_samples,
    )


def _first_frame(flow: Flow) -> int:
    return flow.first_frame


class Texts:
    """Canonical text of raw addresses (and PayloadKinds of bits), each made once and shared."""

    __slots__ = ("addresses", "payloads")

    def __init__(self) -> None:
        self.addresses: dict[Address, str] = {}
        self.payloads: dict[int, PayloadKind] = {}

    def text(self, raw: Address) -> str:
        text = self.addresses.get(raw)
        if text is None:
            text = self.addresses[raw] = address_text(raw)
        return text

    def texts(self, raws: Sequence[Address]) -> list[str]:
        """text() of each, those not known yet made at once (IPv4 by C calls alone)."""
        known = self.addresses
        # Asked of each raw by C calls (map, compress): comprehensions cost ~0.04 s at 100k.
        missing = list(filterfalse(known.__contains__, raws))
        if missing:
            four = list(compress(missing, map(and_, map(is_, map(type, missing), repeat(bytes)),
                                              map(_FOUR.__eq__, map(len, missing)))))  # fmt: skip
            known.update(zip(four, _ipv4_texts(cast("list[bytes]", four)), strict=True))
            if len(four) != len(missing):
                known.update((raw, address_text(raw)) for raw in missing if raw not in known)
        return list(map(known.__getitem__, raws))

    def kinds(self, bits: int) -> PayloadKind:
        kind = self.payloads.get(bits)
        if kind is None:
            kind = self.payloads[bits] = PayloadKind(bits)
        return kind


def address_text(raw: Address) -> str:
    """The text of a raw address (text stays as it is); inet_ntop writes IPv4 as ipaddress
    does, but not every IPv6 address (an IPv4-mapped one), so ipaddress writes those."""
    if isinstance(raw, str):
        return raw
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    return str(ipaddress.IPv6Address(raw))


_FOUR: Final = 4  # an IPv4 address's raw length
_ipv4_text = functools.partial(socket.inet_ntop, socket.AF_INET)


def _ipv4_texts(raws: list[bytes]) -> list[str]:
    """_ipv4_text of each 4-byte address: by _loop.ipv4_texts where the loops are compiled (an
    inet_ntop call cost ~3,000 instructions an address, 0.03 s at 100k servers)."""
    if fastpath.compiled:
        from auditor.capture._loop import ipv4_texts  # built: fastpath.NEEDED names it

        return ipv4_texts(raws)
    return list(map(_ipv4_text, raws))


def address_key(text: str) -> bytes | None:
    """The raw form of an address's text, or None when it is no address."""
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


class FlowRows:
    """Any source's flows as rows: a capture's packed ones as they are, Flow objects (flow
    logs, exports, WebRTC dumps) row by row, with their addresses as text."""

    __slots__ = ("columns", "flows")

    def __init__(self, flows: Sequence[Flow]) -> None:
        self.columns = flows if isinstance(flows, FlowColumns) else None
        self.flows = flows

    def groups(self) -> Iterator[tuple[int, int, Iterable[Row]]]:
        """(IP protocol, IP version, rows), the rows of a group sharing both."""
        if self.columns is not None:
            yield from self.columns.groups()
            return
        for (proto, version), flows in itertools.groupby(self.flows, _protocol_and_version):
            yield proto, version, (_row(flow) for flow in flows)

    def timed_groups(self) -> Iterator[tuple[int, int, Iterable[Row]]]:
        """groups(), of at least every row with a delay to time a round trip by."""
        if self.columns is not None:
            return self.columns.timed_groups()
        return self.groups()  # Flow objects: asking each costs what reading its row does

    def address_pairs(self) -> Iterator[tuple[int, list[tuple[Address, Address]]]]:
        """(IP version, a batch of flows' (a, b) addresses)."""
        if self.columns is not None:
            for chunk in self.columns.chunks:
                yield 4 if chunk.width == 4 else 6, chunk.address_pairs()
            return
        for _proto, version, rows in self.groups():
            it = iter(rows)
            while batch := [(row[0], row[1]) for row in islice(it, BATCH)]:
                yield version, batch

    def text(self, address: Address) -> str:
        if self.columns is not None:
            return self.columns.texts.text(address)
        return address_text(address)

    def texts(self, addresses: Sequence[Address]) -> list[str]:
        """text() of each address."""
        if self.columns is not None:
            return self.columns.texts.texts(addresses)
        return list(map(address_text, addresses))

    def key(self, text: str) -> Address | None:
        """An address given as text, as the rows hold it."""
        return text if self.columns is None else address_key(text)


def _protocol_and_version(flow: Flow) -> tuple[int, int]:
    return flow.protocol, 6 if ":" in flow.a else 4


def _row(flow: Flow) -> Row:
    return (
        flow.a, flow.b, flow.a_port, flow.b_port, flow.packets_ab, flow.packets_ba,
        flow.bytes_ab, flow.bytes_ba, flow.first_seen, flow.last_seen, flow.first_frame,
        int(flow.syn_ab), int(flow.syn_ba), _delay(flow.answer_delay), int(flow.payloads),
        _delay(flow.stun_delay), flow.stun_samples, _delay(flow.ack_delay),
    )  # fmt: skip


def _delay(seconds: float | None) -> float:
    return NO_DELAY if seconds is None else seconds
