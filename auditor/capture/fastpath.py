"""What the pcap and pcapng hot loops share: precompiled structs, constants, the VLAN counter,
and the choice between the compiled loops (_loop.c) and the pure-Python ones."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Final, NamedTuple

from auditor.capture.records import Record, count_packet

if TYPE_CHECKING:
    from auditor.capture.flowtable import FlowTable
    from auditor.capture.taps import Gathering

# What the packet loops are given (see _loop.pyi): a protocol's table, and the callables they
# hand every packet they do not count inline.
Table = dict[bytes, Record]
Add = Callable[[int, bytes, int, float, int, int], int]  # FlowTable.add_untabled
Look = Callable[[int, bytes, bytearray, int, int, int, int], None]  # FlowTable.look
Decode = Callable[["FlowTable", int, bytes, float, int, int], None]  # decode.decode_packet


class Directions(NamedTuple):
    """Where the packet loops count a TCP or UDP packet, taken from the flow table once per
    call: its tables and taps, add_untabled and look for what a loop does not count itself,
    and the taps' budgets (the compiled loop hands a packet that reaches one to add_untabled).

    The compiled loop calls look on a young UDP direction's packet only when look would act
    on it (see udp_looks in _loop.c): it compares the payload's kind with the direction's in
    ``kinds``, and looks on while ``hellos`` holds a ClientHello being gathered. Neither dict
    is replaced while a loop runs."""

    tcp: Table
    udp: Table
    tcp_taps: Table
    udp_taps: Table
    add: Add
    look: Look
    budgets: tuple[int, int, int]  # TCP, QUIC (UDP to 443), UDP: packets looked at
    kinds: dict[tuple[int, bytes], int]  # FlowTable.kinds
    hellos: dict[bytes, Gathering]  # FlowTable.hellos
    ports: tuple[int, int, tuple[int, ...]]  # UDP: DNS, QUIC, tunnels (look always acts)


def directions(ft: FlowTable) -> Directions:
    # Imported here: `audit --version` asks this module which loop runs, and the taps bring
    # the name parsers in (tens of ms of start-up).
    from auditor.capture.taps import DNS_PORT, QUIC_PORT, QUIC_TAP_PACKETS, TAP_PACKETS
    from auditor.capture.wiretaps import UDP_TAP_PACKETS
    from auditor.tunnels import UDP_TUNNEL_WIRE_PORTS

    tunnels = tuple(int.from_bytes(port, "big") for port in UDP_TUNNEL_WIRE_PORTS)
    ports = (int.from_bytes(DNS_PORT, "big"), int.from_bytes(QUIC_PORT, "big"), tunnels)
    return Directions(
        ft.tables[6], ft.tables[17], ft.taps[6], ft.taps[17], ft.add_untabled, ft.look,
        (TAP_PACKETS, QUIC_TAP_PACKETS, UDP_TAP_PACKETS), ft.kinds, ft.hellos, ports,
    )  # fmt: skip

MAX_CAPLEN: Final = 256 * 1024  # a pcap record claiming more is damage, not an allocation
MAX_BLOCK: Final = 16 * 1024 * 1024  # same for a pcapng block

# Ethernet + IPv4 (IHL 5) + the first 14 transport bytes, read in one call after the record or
# block header: ethertype, version/IHL, total length, flags/fragment offset, protocol, the
# src|dst|sport|dport key as raw bytes, and the TCP flags byte.
ETH_IPV4_TAIL: Final = "12xHBxH2xHxB2x12s9xB"
# IPv6 right after a 14-byte Ethernet header: version nibble, payload length, next header, the
# src|dst|sport|dport key, TCP flags. Always network order, so one struct serves both files.
IPV6_AT_ETH = struct.Struct(">B3xHBx36s9xB")
# The IPv4 fields of ETH_IPV4_TAIL behind one 802.1Q tag, from the inner ethertype on.
TAGGED_IPV4 = struct.Struct(">HBxH2xHxB2x12s9xB")


# What the readers and the endpoint tally take from the compiled loop. A build older than the
# source (a checkout pulled past its in-place build) lacks some: the pure-Python loops run then,
# as `audit --version` says, rather than an audit ending in an ImportError half-way.
NEEDED: Final = ("pcap_records", "epb_records", "udp_payload_kind", "pair_rows", "pack_rows",
                 "tally_rows", "trip_rows", "ipv4_texts")


def _built() -> bool:
    try:
        from auditor.capture import _loop
    except ImportError:
        return False
    return all(hasattr(_loop, name) for name in NEEDED)


# Whether this install has the compiled packet loops (_loop.c, built by setup.py when a C
# compiler was there: the extension is optional). ``compiled`` is the readers' choice, read at
# the start of each read: tests set it False to run the pure-Python loops, their oracle.
BUILT: Final = _built()
compiled = BUILT


def loop_name() -> str:
    """Which packet loop this install runs, for ``audit --version``."""
    return "compiled packet loop" if BUILT else "pure-Python packet loop"


@contextmanager
def python_loop() -> Iterator[None]:
    """Run the pure-Python packet loops meanwhile (the tests' oracle for the compiled ones)."""
    global compiled  # noqa: PLW0603 - the readers' one switch
    saved, compiled = compiled, False
    try:
        yield
    finally:
        compiled = saved


class Constants(NamedTuple):
    """The IP-field constants as they read when unpacked in the file's byte order.

    The packet is big-endian but the record header is in the file's order; one struct call
    reads both in the file's order, so the packet fields come out byte-swapped in a
    little-endian file and are compared against swapped constants instead of being fixed up.
    """

    eth_ipv4: int
    eth_ipv6: int
    frag_mask: int  # MF flag and fragment offset
    to_host16: tuple[int, ...]  # index with a 16-bit field to get its network-order value


@cache
def constants(endian: str) -> Constants:
    if endian == ">":
        return Constants(0x0800, 0x86DD, 0x3FFF, tuple(range(65536)))
    # Every 16-bit value read in the other byte order, built in C (once per run, and a
    # generator over 65,536 values was a fixed cost of every little-endian capture).
    swapped = struct.unpack(">65536H", struct.pack("<65536H", *range(65536)))
    return Constants(0x0008, 0xDD86, 0xFF3F, swapped)


def count_tagged(  # noqa: PLR0917 - per tagged frame, positional on purpose
    ft: FlowTable, buf: bytes | bytearray, at: int, end: int, ts: float, frame: int
) -> bool:
    """Count a frame with one 802.1Q tag in front of IPv4/TCP|UDP as the hot loops count an
    untagged one (the headline's captures tag 1.3% of their frames: the general decoder took
    some 8 us each); False when it is anything else, for the decoder. ``at``: the inner
    ethertype's offset in ``buf``; ``end``: the record's end. Kept out of the loops, where
    even a test for the tag costs every untagged packet (about 100 instructions, callgrind)."""
    if at + TAGGED_IPV4.size > end:
        return False
    ethertype, vihl, total, frag, proto, key, flags = TAGGED_IPV4.unpack_from(buf, at)
    if ethertype != 0x0800 or vihl != 0x45 or frag & 0x3FFF or total < 34:
        return False
    if proto != 17 and proto != 6:  # noqa: PLR1714
        return False
    syn = 1 if proto == 6 and flags & 0x12 == 0x02 else 0
    record = ft.tables[proto].get(key)
    if record is not None:
        count_packet(record, total, ts, syn)
        return True
    index = ft.add_untabled(proto, key, total, ts, frame, syn)
    if index >= 0 and (total > 40 or proto == 17):  # 40: bare IP+TCP headers
        ip = at + 2
        ft.look(proto, key, buf, ip + 20, min(ip + total, end), index, frame)
    return True
