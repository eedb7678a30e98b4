"""Builds test captures byte by byte: packets, pcap and pcapng files (any byte order, any block)."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field


def addr(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, flags: int = 0x18, payload: bytes = b"", *, seq: int = 1) -> bytes:
    header = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    return header + payload


def padded_hello(server_name: str, pad: int = 1500) -> bytes:
    """A TLS ClientHello as post-quantum browsers send it: too long for one segment, with a
    ``pad``-byte padding extension (as large as an X25519MLKEM768 key share) before the
    server_name, which so comes last."""
    name = server_name.encode()
    entry = b"\x00" + struct.pack(">H", len(name)) + name
    sni = struct.pack(">HHH", 0, len(entry) + 2, len(entry)) + entry
    padding = struct.pack(">HH", 21, pad) + bytes(pad)
    extensions = padding + sni
    body = (
        b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
        + struct.pack(">H", len(extensions)) + extensions
    )  # fmt: skip
    handshake = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


def ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    *,
    options: bytes = b"",
    ident: int = 1,
    frag: int = 0,
    total: int | None = None,
    ttl: int = 64,
) -> bytes:
    """``frag`` is the raw flags/fragment-offset field (0x2000 = MF, low 13 bits = offset/8)."""
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    length = total if total is not None else ihl * 4 + len(payload)
    header = struct.pack(
        ">BBHHHBBH4s4s", 0x40 | ihl, 0, length, ident, frag, ttl, proto, 0, addr(src), addr(dst)
    )
    return header + options + payload


def ipv6(
    src: str,
    dst: str,
    nh: int,
    payload: bytes,
    *,
    ext: tuple[tuple[int, bytes], ...] = (),
    plen: int | None = None,
) -> bytes:
    """``ext`` is a chain of (header type, raw header bytes with next-header byte to fill)."""
    chain = b""
    types = [t for t, _ in ext] + [nh]
    for index, (_kind, body) in enumerate(ext):
        chain += bytes((types[index + 1],)) + body[1:]
    first = types[0]
    length = plen if plen is not None else len(chain) + len(payload)
    return (
        struct.pack(">IHBB16s16s", 0x60000000, length, first, 64, addr(src), addr(dst))
        + chain
        + payload
    )


def ext8(words: int = 0) -> bytes:
    """A hop-by-hop/routing/destination-options header of (words + 1) * 8 bytes."""
    return bytes((0, words)) + bytes(6 + 8 * words)


def frag6(offset: int, more: bool, ident: int) -> bytes:
    return struct.pack(">BBHI", 0, 0, (offset << 3) | int(more), ident)


def ah(words: int = 4) -> bytes:
    """An authentication header of (words + 2) * 4 bytes."""
    return bytes((0, words)) + bytes((words + 2) * 4 - 2)


def ether(payload: bytes, ethertype: int = 0x0800, vlans: tuple[int, ...] = ()) -> bytes:
    """``vlans`` are TPIDs (0x8100, 0x88a8, 0x9100), outermost first."""
    frame = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb"
    for tpid in vlans:
        frame += struct.pack(">HH", tpid, 100)
    frame += struct.pack(">H", ethertype) + payload
    return frame + bytes(max(0, 60 - len(frame)))  # minimum frame size, like a real NIC


def sll(payload: bytes, protocol: int = 0x0800) -> bytes:
    return struct.pack(">HHH8sH", 0, 1, 6, b"\x00" * 8, protocol) + payload


def sll2(payload: bytes, protocol: int = 0x0800) -> bytes:
    return struct.pack(">HHIHBB8s", protocol, 0, 2, 1, 0, 6, b"\x00" * 8) + payload


def null(payload: bytes, family: int, order: str = "<") -> bytes:
    return struct.pack(order + "I", family) + payload


def pcap_file(
    records: list[tuple[float, bytes]] | list[tuple[float, bytes, int]],
    link_type: int = 1,
    *,
    endian: str = "<",
    nano: bool = False,
    snaplen: int = 65535,
    link_field_extra: int = 0,
) -> bytes:
    """A classic pcap; a record is (time, captured bytes[, original length])."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [
        struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link_type | link_field_extra)
    ]
    scale = 1_000_000_000 if nano else 1_000_000
    for record in records:
        ts, data = record[0], record[1]
        orig = record[2] if len(record) > 2 else len(data)
        sec = int(ts)
        frac = round((ts - sec) * scale)
        out.append(struct.pack(endian + "IIII", sec, frac, len(data), orig) + data)
    return b"".join(out)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body = _pad(body)
    length = 12 + len(body)
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def option(endian: str, code: int, value: bytes) -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + _pad(value)


@dataclass
class Iface:
    link_type: int = 1
    tsresol: int | None = None  # raw if_tsresol byte
    tsoffset: int | None = None
    snaplen: int = 0


@dataclass
class Packet:
    data: bytes
    units: int = 0  # timestamp in the interface's units
    iface: int = 0
    kind: str = "epb"  # "epb", "spb", "opb"
    orig_len: int | None = None
    comment: bytes | None = None  # adds an option to EPB/OPB (takes it off the fast path)


@dataclass
class PcapngSection:
    endian: str = "<"
    interfaces: list[Iface] = field(default_factory=lambda: [Iface()])
    packets: list[Packet | bytes] = field(default_factory=list)  # bytes: an arbitrary raw block


def pcapng_file(sections: list[PcapngSection]) -> bytes:
    out: list[bytes] = []
    for section in sections:
        e = section.endian
        out.append(
            _block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + option(e, 0, b""))
        )
        for iface in section.interfaces:
            opts = b""
            if iface.tsresol is not None:
                opts += option(e, 9, bytes((iface.tsresol,)))
            if iface.tsoffset is not None:
                opts += option(e, 14, struct.pack(e + "q", iface.tsoffset))
            if opts:
                opts += option(e, 0, b"")
            out.append(
                _block(e, 1, struct.pack(e + "HHI", iface.link_type, 0, iface.snaplen) + opts)
            )
        for packet in section.packets:
            out.append(packet if isinstance(packet, bytes) else _packet_block(e, packet))
    return b"".join(out)


def _packet_block(e: str, p: Packet) -> bytes:
    orig = p.orig_len if p.orig_len is not None else len(p.data)
    hi, lo = p.units >> 32, p.units & 0xFFFFFFFF
    opts = option(e, 1, p.comment) + option(e, 0, b"") if p.comment is not None else b""
    if p.kind == "spb":
        return _block(e, 3, struct.pack(e + "I", orig) + p.data)
    if p.kind == "opb":
        head = struct.pack(e + "HHIIII", p.iface, 0, hi, lo, len(p.data), orig)
        return _block(e, 2, head + _pad(p.data) + opts)
    head = struct.pack(e + "IIIII", p.iface, hi, lo, len(p.data), orig)
    return _block(e, 6, head + _pad(p.data) + opts)


def raw_block(endian: str, btype: int, body: bytes) -> bytes:
    """Any block, e.g. a name resolution (4) or custom (0xBAD) block to be skipped."""
    return _block(endian, btype, body)


def dns_reply(name: str, address: str) -> bytes:
    """A DNS response message: one question, one A or AAAA answer pointing back at it."""
    question = b"".join(bytes((len(p),)) + p.encode() for p in name.split(".")) + b"\x00"
    rdata = addr(address)
    kind = 28 if len(rdata) == 16 else 1
    answer = b"\xc0\x0c" + struct.pack(">HHIH", kind, 1, 60, len(rdata)) + rdata
    header = struct.pack(">HHHHHH", 1, 0x8180, 1, 1, 0, 0)
    return header + question + struct.pack(">HH", kind, 1) + answer
