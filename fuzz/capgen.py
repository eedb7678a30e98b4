"""Small valid captures built byte by byte, with the offset where every record ends.

The fuzz run and the robustness tests mutate these: knowing each record's end lets a test say
exactly which records a cut or a flipped byte left whole.
"""

from __future__ import annotations

import gzip
import ipaddress
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_NULL = 0
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_SLL2 = 276
LINKTYPE_PPP = 9

# Link types the reader decodes, and a couple it does not (to be counted as skipped).
LINK_TYPES: tuple[int, ...] = (0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 192, 226, 228, 229, 239,
                               258, 276, 105, 147)


@dataclass(frozen=True, slots=True)
class Packet:
    """One captured frame: when, on which link type, its bytes, and its length on the wire."""

    ts_ns: int
    link_type: int
    data: bytes
    wire_len: int = 0  # 0: len(data)


@dataclass(frozen=True, slots=True)
class Capture:
    """A capture file's bytes and where its parts end (the header first, then every record)."""

    data: bytes
    header_end: int
    record_ends: tuple[int, ...]  # offset just past each packet record, in file order
    fmt: str  # "pcap" or "pcapng"
    header_blocks: tuple[int, ...] = ()  # pcapng: where each block before the first packet ends

    def prefix(self, cut: int) -> bytes:
        """The file made of the header and only the records that end at or before ``cut``."""
        whole = [end for end in self.record_ends if end <= cut]
        return self.data[: whole[-1] if whole else self.header_end]

    def whole_records(self, cut: int) -> int:
        return sum(1 for end in self.record_ends if end <= cut)


# --- packets -----------------------------------------------------------------------------------

def ethernet(payload: bytes, ethertype: int, vlans: Sequence[int] = ()) -> bytes:
    tags = b"".join(struct.pack(">HH", 0x8100, vid & 0xFFF) for vid in vlans)
    return b"\x00\x11\x22\x33\x44\x55" + b"\x66\x77\x88\x99\xaa\xbb" + _et(tags, ethertype, payload)


def _et(tags: bytes, ethertype: int, payload: bytes) -> bytes:
    if not tags:
        return struct.pack(">H", ethertype) + payload
    # The tags sit between the MAC addresses and the real ethertype: 0x8100 | tag | ... | type.
    return tags + struct.pack(">H", ethertype) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, flags: int = 0x18, payload: bytes = b"") -> bytes:
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, frag: int = 0, ident: int = 1) -> bytes:
    header = struct.pack(
        ">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


def ipv6(src: str, dst: str, nh: int, payload: bytes) -> bytes:
    return struct.pack(
        ">IHBB16s16s", 0x60000000, len(payload), nh, 64,
        ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed,
    ) + payload


def sample_packets(rng: random.Random, count: int) -> list[Packet]:
    """A meeting-like mix: a few conversations, both directions, v4 and v6, TCP and UDP, VLANs."""
    v4 = ["192.0.2.10", "198.51.100.7", "203.0.113.9", "8.8.8.8", "81.2.69.142", "10.0.0.5"]
    v6 = ["2001:db8::1", "2001:db8::53", "2a02:d300::1", "fe80::1"]
    conversations = []
    for _ in range(8):
        six = rng.random() < 0.3
        client, server = rng.sample(v6 if six else v4, 2)
        sport, dport = rng.choice([(50000, 443), (50001, 8801), (51000, 3478), (53000, 53)])
        conversations.append((six, rng.choice([6, 17]), client, server, sport, dport))
    packets = []
    ts = 1_700_000_000 * 10**9
    for _ in range(count):
        ts += rng.randrange(1, 50_000_000)
        six, proto, client, server, sport, dport = rng.choice(conversations)
        if rng.random() < 0.4:
            client, server, sport, dport = server, client, dport, sport
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        if proto == 17:
            l4 = udp(sport, dport, body)
        else:
            l4 = tcp(sport, dport, rng.choice([0x02, 0x12, 0x10, 0x18]), body)
        ip = ipv6(client, server, proto, l4) if six else ipv4(client, server, proto, l4)
        vlans = [rng.randrange(1, 4095)] * rng.choice([0, 0, 0, 1, 2])
        frame = ethernet(ip, 0x86DD if six else 0x0800, vlans)
        packets.append(Packet(ts, LINKTYPE_ETHERNET, frame))
    return packets


# --- files -------------------------------------------------------------------------------------

def pcap(
    packets: Sequence[Packet],
    *,
    endian: str = "<",
    nano: bool = False,
    link_type: int | None = None,
    snaplen: int = 65535,
) -> Capture:
    """A classic pcap file; every packet must share the file's one link type."""
    link = link_type if link_type is not None else (packets[0].link_type if packets else 1)
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = bytearray(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link))
    ends = []
    unit = 1 if nano else 1000
    for packet in packets:
        sec, frac = divmod(packet.ts_ns // unit, 10**9 // unit)
        wire = packet.wire_len or len(packet.data)
        out += struct.pack(endian + "IIII", sec, frac, len(packet.data), wire) + packet.data
        ends.append(len(out))
    return Capture(bytes(out), 24, tuple(ends), "pcap")


def pcapng(
    packets: Sequence[Packet],
    *,
    endian: str = "<",
    block: str = "epb",
    tsresol: int | None = None,
) -> Capture:
    """One section; one interface per link type used, in order of first use.

    ``block`` is "epb", "opb" (obsolete packet block), "spb" (simple: one interface only) or
    "mixed" (EPB and OPB alternating).
    """
    links: list[int] = []
    for packet in packets:
        if packet.link_type not in links:
            links.append(packet.link_type)
    if not links:
        links = [LINKTYPE_ETHERNET]
    out = bytearray(_block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)))
    header_blocks = [len(out)]
    for link in links:
        options = b""
        if tsresol is not None:
            options = struct.pack(endian + "HH", 9, 1) + bytes((tsresol, 0, 0, 0))
            options += struct.pack(endian + "HH", 0, 0)
        out += _block(endian, 1, struct.pack(endian + "HHI", link, 0, 0) + options)
        header_blocks.append(len(out))
    header_end = len(out)
    ends = []
    divisor = _divisor(tsresol)
    for index, packet in enumerate(packets):
        iface = links.index(packet.link_type)
        stamp = packet.ts_ns * divisor // 10**9
        wire = packet.wire_len or len(packet.data)
        body = packet.data + bytes(-len(packet.data) % 4)
        kind = block if block != "mixed" else ("epb" if index % 2 == 0 else "opb")
        if kind == "spb":
            out += _block(endian, 3, struct.pack(endian + "I", wire) + body)
        elif kind == "opb":
            out += _block(endian, 2, struct.pack(endian + "HHIIII", iface, 0, stamp >> 32,
                                                 stamp & 0xFFFFFFFF, len(packet.data), wire) + body)
        else:
            out += _block(endian, 6, struct.pack(endian + "IIIII", iface, stamp >> 32,
                                                 stamp & 0xFFFFFFFF, len(packet.data), wire) + body)
        ends.append(len(out))
    return Capture(bytes(out), header_end, tuple(ends), "pcapng", tuple(header_blocks))


def _divisor(tsresol: int | None) -> int:
    if tsresol is None:
        return 10**6
    base = 2 if tsresol & 0x80 else 10
    return int(base ** (tsresol & 0x7F))  # int ** int is typed Any (a negative power is float)


def _block(endian: str, btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def seed_captures(rng: random.Random) -> list[Capture]:
    """A spread of valid captures: both formats and byte orders, every packet block kind."""
    packets = sample_packets(rng, 30)
    spb_packets = [p for p in packets if p.link_type == LINKTYPE_ETHERNET]
    return [
        pcap(packets),
        pcap(packets, endian=">", nano=True),
        pcapng(packets),
        pcapng(packets, endian=">", block="mixed", tsresol=9),
        pcapng(spb_packets, block="spb"),
        pcapng(packets, block="opb", tsresol=0x86),
    ]
