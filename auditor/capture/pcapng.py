"""The pcapng reader: sections, interfaces and packet blocks, with the EPB fast path."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from auditor.capture.decode import decode_packet
from auditor.capture.fastpath import ETH_IPV4_TAIL, IPV6_AT_ETH, MAX_BLOCK, constants
from auditor.capture.flowtable import FlowTable
from auditor.capture.source import ByteSource, refill, window
from auditor.errors import CaptureError

Buf = bytes | bytearray
Unpacker = Callable[[Buf, int], tuple[Any, ...]]

SHB: Final = 0x0A0D0D0A
IDB: Final = 1
OPB: Final = 2
SPB: Final = 3
EPB: Final = 6
BYTE_ORDER_MAGIC: Final = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
# Block types a resync may land on: the standard ones and the common vendor ones.
KNOWN_BLOCKS: Final = frozenset(
    {SHB, IDB, OPB, SPB, 4, 5, EPB, 7, 8, 9, 0x0A, 0x0B, 0x0BAD, 0x40000BAD, 0x80000001}
)


@dataclass(frozen=True, slots=True)
class Interface:
    link_type: int
    snaplen: int
    divisor: int  # timestamp units per second
    offset: int  # seconds added to every timestamp (if_tsoffset)

    def seconds(self, hi: int, lo: int) -> float:
        # The same arithmetic as the fast path, so that both give the very same float.
        div = float(self.divisor)
        return hi * (4294967296 / div) + lo / div + self.offset


@dataclass(slots=True)
class Section:
    endian: str
    interfaces: list[Interface] = field(default_factory=list)


class Damage(Exception):  # noqa: N818 - a control-flow signal inside this module, not an error
    """The rest of the stream cannot be read; carries the warning text and where."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@cache
def _fast_structs(endian: str) -> tuple[Unpacker, Unpacker]:
    return (
        struct.Struct(endian + "6I4x" + ETH_IPV4_TAIL).unpack_from,
        struct.Struct(endian + "I").unpack_from,
    )


class PcapngReader:
    """Reads blocks from a stream positioned at a block boundary.

    ``section`` is the section in effect at that boundary: None at the start of a file (the
    first block must then be a section header), or the state a previous byte range ended in.
    """

    def __init__(
        self, src: ByteSource, ft: FlowTable, section: Section | None, *, fast: bool = True
    ) -> None:
        self.src = src
        self.ft = ft
        self.section = section
        self.fast = fast
        self.at_file_start = section is None
        self.last_ts = 0.0  # SPBs carry no timestamp: they get the previous packet's
        self.timed = False  # a packet with a timestamp was read (else last_ts is a guess)
        # SPBs read before any timed packet: in a byte range starting mid-file, their time is
        # the previous range's, so the merge reads such a range again knowing it.
        self.untimed_spbs = 0

    def run(self, head: bytes) -> bool:
        """Count every block; False when damage stopped the read (warning in ``ft``)."""
        try:
            self._loop(head)
        except Damage as exc:
            if self._before_any_data():
                raise CaptureError(self.src.path, str(exc), exc.offset) from None
            # A stream stopped early (damaged or a bomb) says why, not where a block broke off.
            self.ft.warnings.append(self.src.damage or str(exc))
            return False
        if self.src.damage is not None:
            self.ft.warnings.append(self.src.damage)
            return False
        return True

    def _before_any_data(self) -> bool:
        # As libpcap does at open: a file whose header blocks are broken is not a capture.
        return self.at_file_start and self.ft.frames == 0 and not self._has_interface()

    def _has_interface(self) -> bool:
        return self.section is not None and bool(self.section.interfaces)

    def _loop(self, head: bytes) -> None:
        ft = self.ft
        src = self.src
        buf, base, pos, n = window(src, head)
        add, look = ft.add, ft.look
        decode = decode_packet
        tcp, udp = ft.tables[6], ft.tables[17]
        tcp_get, udp_get = tcp.get, udp.get
        unpack6 = IPV6_AT_ETH.unpack_from
        while True:
            nfast, divisor, endian = self._fast_interfaces()
            if nfast:
                div = float(divisor)
                hi_scale = 4294967296 / div
                unpack, trailer = _fast_structs(endian)
                wire = trailer
                eth4, eth6, frag_mask, host16 = constants(endian)
                frame = ft.frames
                t = self.last_ts
                while pos + 76 <= n:
                    (btype, blen, iface, hi, lo, caplen,
                     et, vihl, tlr, frag, proto, key, flags) = unpack(buf, pos)  # fmt: skip
                    nxt = pos + blen
                    # An option-less EPB on an Ethernet interface: its length says exactly
                    # where it ends, and the trailer must repeat it.
                    if (
                        btype != EPB
                        or blen != (caplen + 35) & -4
                        or iface >= nfast
                        or nxt > n
                        or trailer(buf, nxt - 4)[0] != blen
                    ):
                        break
                    frame += 1
                    t = hi * hi_scale + lo / div + 0  # + offset, which is 0 here
                    if et == eth4:
                        if vihl == 0x45 and not frag & frag_mask and caplen >= 48:
                            tl = host16[tlr]
                            if tl >= 34:
                                if proto == 17:
                                    r = udp_get(key)
                                    if r is None:
                                        i = add(17, key, tl, t, frame, 0)
                                        if i >= 0:
                                            end = min(pos + 42 + tl, pos + 28 + caplen)
                                            look(17, key, buf, pos + 62, end, i, frame)
                                    else:
                                        r[0] += 1
                                        r[1] += tl
                                        if t > r[3]:
                                            r[3] = t
                                        elif t < r[2]:
                                            r[2] = t
                                    pos = nxt
                                    continue
                                if proto == 6:
                                    syn = 1 if flags & 0x12 == 0x02 else 0
                                    r = tcp_get(key)
                                    if r is None:
                                        i = add(6, key, tl, t, frame, syn)
                                        if i >= 0:
                                            end = min(pos + 42 + tl, pos + 28 + caplen)
                                            look(6, key, buf, pos + 62, end, i, frame)
                                    else:
                                        r[0] += 1
                                        r[1] += tl
                                        if t > r[3]:
                                            r[3] = t
                                        elif t < r[2]:
                                            r[2] = t
                                        if syn:
                                            r[5] = 1
                                    pos = nxt
                                    continue
                    elif et == eth6 and caplen >= 68:
                        vtc, plen, nh, key, flags = unpack6(buf, pos + 42)
                        if vtc & 0xF0 == 0x60 and plen >= 14 and (nh == 17 or nh == 6):  # noqa: PLR1714
                            syn = 1 if nh == 6 and flags & 0x12 == 0x02 else 0
                            table = udp if nh == 17 else tcp
                            r = table.get(key)
                            if r is None:
                                i = add(nh, key, 40 + plen, t, frame, syn)
                                if i >= 0:
                                    end = min(pos + 82 + plen, pos + 28 + caplen)
                                    look(nh, key, buf, pos + 82, end, i, frame)
                            else:
                                r[0] += 1
                                r[1] += 40 + plen
                                if t > r[3]:
                                    r[3] = t
                                elif t < r[2]:
                                    r[2] = t
                                if syn:
                                    r[5] = 1
                            pos = nxt
                            continue
                    self.last_ts = t
                    self.timed = True
                    wire_len = max(wire(buf, pos + 24)[0], caplen)
                    decode(ft, 1, bytes(buf[pos + 28 : pos + 28 + caplen]), t, frame, wire_len)
                    pos = nxt
                if frame != ft.frames:
                    self.last_ts = t
                    self.timed = True
                ft.frames = frame
            # The careful path: one block with every check.
            if n - pos < 12:
                buf, base, pos, n = refill(src, buf, base, pos, n, need=12)
                if n == 0:
                    return
                if n < 12:
                    raise Damage(
                        f"truncated block at offset {base}: file ends inside a block header",
                        base,
                    )
            blen = self._block_length(buf, pos, base)
            if n - pos < blen:
                buf, base, pos, n = refill(src, buf, base, pos, n, need=blen)
                if n < blen:
                    raise Damage(
                        f"truncated block at offset {base}: file ends inside a {blen}-byte block",
                        base,
                    )
            self._block(buf, pos, blen, base + pos)
            pos += blen

    def _fast_interfaces(self) -> tuple[int, int, str]:
        """How many leading interfaces the fast path may take, their divisor, the byte order."""
        section = self.section
        if not self.fast or section is None or not section.interfaces:
            return 0, 1, "<"
        first = section.interfaces[0]
        count = 0
        for iface in section.interfaces:
            if iface.link_type != 1 or iface.divisor != first.divisor or iface.offset:
                break
            count += 1
        return count, first.divisor, section.endian

    def _block_length(self, buf: Buf, pos: int, base: int) -> int:
        offset = base + pos
        endian = self.section.endian if self.section is not None else "<"
        btype = struct.unpack_from(endian + "I", buf, pos)[0]
        if btype == SHB:
            endian_found = BYTE_ORDER_MAGIC.get(bytes(buf[pos + 8 : pos + 12]))
            if endian_found is None:
                raise Damage(
                    f"corrupt section header at offset {offset}: bad byte-order magic", offset
                )
            endian = endian_found
        elif self.section is None:
            raise Damage(f"no section header block at offset {offset}", offset)
        blen: int = struct.unpack_from(endian + "I", buf, pos + 4)[0]
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            raise Damage(f"corrupt block length {blen} at offset {offset}", offset)
        return blen

    def _block(self, buf: Buf, pos: int, blen: int, offset: int) -> None:
        endian = self.section.endian if self.section is not None else "<"
        btype = struct.unpack_from(endian + "I", buf, pos)[0]
        if btype == SHB:
            endian = BYTE_ORDER_MAGIC[bytes(buf[pos + 8 : pos + 12])]
        trailer = struct.unpack_from(endian + "I", buf, pos + blen - 4)[0]
        if trailer != blen:
            raise Damage(
                f"corrupt block at offset {offset}: length {blen} at its start,"
                f" {trailer} at its end",
                offset,
            )
        if btype == SHB:
            self._section_header(buf, pos, blen, endian, offset)
        elif btype == IDB:
            self._interface(buf, pos, blen, endian, offset)
        elif btype == EPB:
            self._packet(buf, pos, blen, endian, offset, opb=False)
        elif btype == OPB:
            self._packet(buf, pos, blen, endian, offset, opb=True)
        elif btype == SPB:
            self._simple_packet(buf, pos, blen, endian, offset)
        # Every other block (name resolution, statistics, custom...) carries no packet.

    def _section_header(self, buf: Buf, pos: int, blen: int, endian: str, offset: int) -> None:
        if blen < 28:
            raise Damage(f"corrupt section header at offset {offset}: length {blen}", offset)
        major, minor = struct.unpack_from(endian + "HH", buf, pos + 12)
        if major != 1:
            raise Damage(f"unsupported pcapng version {major}.{minor} at offset {offset}", offset)
        self.section = Section(endian)

    def _interface(self, buf: Buf, pos: int, blen: int, endian: str, offset: int) -> None:
        assert self.section is not None  # noqa: S101 - _block_length guarantees it
        if blen < 20:
            raise Damage(f"corrupt interface description at offset {offset}: length {blen}", offset)
        link_type, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, pos + 8)
        divisor, ts_offset = 1_000_000, 0
        for code, value in _options(buf, pos + 16, pos + blen - 4, endian):
            if code == 9 and value:
                exponent = value[0] & 0x7F
                divisor = 2**exponent if value[0] & 0x80 else 10**exponent
                if divisor > 10**19:
                    self.ft.warnings.append(
                        f"interface {len(self.section.interfaces)} at offset {offset}:"
                        " implausible timestamp resolution"
                    )
            elif code == 14 and len(value) == 8:
                ts_offset = struct.unpack(endian + "q", value)[0]
        self.ft.link_types[link_type] = None
        self.section.interfaces.append(Interface(link_type, snaplen, divisor, ts_offset))

    def _packet(
        self, buf: Buf, pos: int, blen: int, endian: str, offset: int, *, opb: bool
    ) -> None:
        if blen < 32:
            raise Damage(f"corrupt packet block at offset {offset}: length {blen}", offset)
        if opb:
            iface_id, _drops, hi, lo, caplen, wire_len = struct.unpack_from(
                endian + "HHIIII", buf, pos + 8
            )
        else:
            iface_id, hi, lo, caplen, wire_len = struct.unpack_from(endian + "IIIII", buf, pos + 8)
        if caplen > blen - 32:
            raise Damage(
                f"corrupt packet block at offset {offset}: {caplen} captured bytes"
                f" in a {blen}-byte block",
                offset,
            )
        iface = self._iface(iface_id, offset)
        self.ft.frames += 1
        if iface is None:
            return
        ts = iface.seconds(hi, lo)
        self.last_ts = ts
        self.timed = True
        decode_packet(
            self.ft,
            iface.link_type,
            bytes(buf[pos + 28 : pos + 28 + caplen]),
            ts,
            self.ft.frames,
            max(wire_len, caplen),
        )

    def _simple_packet(self, buf: Buf, pos: int, blen: int, endian: str, offset: int) -> None:
        if blen < 16:
            raise Damage(f"corrupt simple packet block at offset {offset}: length {blen}", offset)
        (orig_len,) = struct.unpack_from(endian + "I", buf, pos + 8)
        iface = self._iface(0, offset)
        self.ft.frames += 1
        if iface is None:
            return
        if not self.timed:
            self.untimed_spbs += 1
        caplen = min(orig_len, blen - 16)
        if iface.snaplen:
            caplen = min(caplen, iface.snaplen)
        decode_packet(
            self.ft,
            iface.link_type,
            bytes(buf[pos + 12 : pos + 12 + caplen]),
            self.last_ts,
            self.ft.frames,
            max(orig_len, caplen),
        )

    def _iface(self, iface_id: int, offset: int) -> Interface | None:
        assert self.section is not None  # noqa: S101 - _block_length guarantees it
        interfaces = self.section.interfaces
        if iface_id < len(interfaces):
            return interfaces[iface_id]
        if self._before_any_data():
            raise Damage(
                f"packet block before any interface description, at offset {offset}", offset
            )
        self.ft.skip(f"packet on undefined interface {iface_id}")
        return None


def _options(buf: Buf, p: int, end: int, endian: str) -> list[tuple[int, bytes]]:
    """The (code, value) options of a block; a malformed tail is ignored, not fatal."""
    found: list[tuple[int, bytes]] = []
    fmt = endian + "HH"
    while p + 4 <= end:
        code, length = struct.unpack_from(fmt, buf, p)
        if code == 0 or p + 4 + length > end:
            break
        found.append((code, bytes(buf[p + 4 : p + 4 + length])))
        p += 4 + ((length + 3) & ~3)
    return found
