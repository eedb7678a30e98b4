"""The pcapng format: sections, interfaces and packet blocks, with the EPB fast path."""

from __future__ import annotations

import copy
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from auditor.capture import fastpath
from auditor.capture import pcapng_blocks as blocks
from auditor.capture.decode import decode_packet
from auditor.capture.fastpath import (
    ETH_IPV4_TAIL,
    IPV6_AT_ETH,
    Decode,
    Directions,
    constants,
    count_tagged,
    directions,
)
from auditor.capture.flowtable import FlowTable
from auditor.capture.pcapng_blocks import EPB, IDB, OPB, SHB, SPB, Damage, Interface, Section
from auditor.capture.source import ByteSource, refill, window
from auditor.capture.surface import Chain, Ending, Resume
from auditor.errors import CaptureError

Buf = bytes | bytearray
Unpacker = Callable[[Buf, int], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class PcapngFormat:
    """A pcapng file's format (see surface.Format): its leading section, which a byte range
    starting mid-file assumes; None when the file's start is broken."""

    first: Section | None

    name = "pcapng"
    first_record = 0
    align = 4  # blocks start 4-aligned in a well-formed file

    @property
    def assumed(self) -> Section | None:
        return self.first

    @property
    def splittable(self) -> bool:
        return self.first is not None

    def reader(
        self, src: ByteSource, ft: FlowTable, resume: Resume | None, *, fast: bool
    ) -> PcapngReader:
        if resume is None:
            return PcapngReader(src, ft, None, fast=fast)
        # A copy: the reader changes its section as blocks come, and ranges share one state.
        reader = PcapngReader(src, ft, copy.deepcopy(resume.section), fast=fast)
        reader.at_file_start = False
        reader.last_ts = resume.last_ts
        return reader

    def chain(self, records: int) -> Chain:
        return blocks.chain(self.first.endian if self.first is not None else "<", records)


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

    def ending(self) -> Ending:
        return Ending(self.section, self.last_ts if self.timed else None, self.untimed_spbs > 0)

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
        into = directions(ft)
        if self.fast and fastpath.compiled:
            from auditor.capture._loop import epb_records as records
        else:
            records = _epb_records
        while True:
            nfast, divisor, endian = self._fast_interfaces()
            if nfast:
                frame, t = ft.frames, self.last_ts
                pos, frame, t = records(
                    buf, pos, n, frame, t, endian == "<", nfast, float(divisor), ft, into,
                    decode_packet,
                )  # fmt: skip
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
        return blocks.block_length(buf, pos, base, self.section)

    def _block(self, buf: Buf, pos: int, blen: int, offset: int) -> None:
        btype, endian = blocks.block_type(buf, pos, self.section, offset)
        blocks.checked_trailer(buf, pos, blen, endian, offset)
        if btype == SHB:
            self.section = blocks.section_header(buf, pos, blen, endian, offset)
        elif btype == IDB:
            assert self.section is not None  # noqa: S101 - block_length guarantees it
            iface = blocks.interface(buf, pos, blen, self.section, offset, self.ft.warnings)
            self.ft.link_types[iface.link_type] = None
            self.section.interfaces.append(iface)
        elif btype == EPB:
            self._packet(buf, pos, blen, endian, offset, opb=False)
        elif btype == OPB:
            self._packet(buf, pos, blen, endian, offset, opb=True)
        elif btype == SPB:
            self._simple_packet(buf, pos, blen, endian, offset)
        # Every other block (name resolution, statistics, custom...) carries no packet.

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


def _epb_records(  # noqa: PLR0917 - epb_records' signature: one can stand in for the other
    buf: bytearray,
    pos: int,
    n: int,
    frame: int,
    t: float,
    little: bool,
    interfaces: int,
    div: float,
    ft: FlowTable,
    into: Directions,
    decode: Decode,
) -> tuple[int, int, float]:
    """The EPB fast loop in Python (see _loop.epb_records): the fallback when this install has
    no compiled loop, and the oracle the tests hold it to."""
    endian = "<" if little else ">"
    nfast = interfaces
    tcp, udp, add, look = into.tcp, into.udp, into.add, into.look
    hi_scale = 4294967296 / div
    unpack, trailer = _fast_structs(endian)
    wire = trailer
    eth4, eth6, frag_mask, host16 = constants(endian)
    vlan = host16[0x8100]  # as read in the file's byte order (see Constants)
    unpack6 = IPV6_AT_ETH.unpack_from
    tagged = count_tagged
    # The hot loop, written out as pcap.py's is (see there why).
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
                if tl >= 34 and (proto == 17 or proto == 6):  # noqa: PLR1714
                    syn = 1 if proto == 6 and flags & 0x12 == 0x02 else 0
                    r = (udp if proto == 17 else tcp).get(key)
                    if r is None:
                        i = add(proto, key, tl, t, frame, syn)
                        if i >= 0 and (tl > 40 or proto == 17):  # 40: IP+TCP headers
                            end = min(pos + 42 + tl, pos + 28 + caplen)
                            look(proto, key, buf, pos + 62, end, i, frame)
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
                    if i >= 0 and (plen > 20 or nh == 17):  # 20: a bare TCP header
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
        if et == vlan and tagged(ft, buf, pos + 44, pos + 28 + caplen, t, frame):
            pos = nxt
            continue
        wire_len = max(wire(buf, pos + 24)[0], caplen)
        decode(ft, 1, bytes(buf[pos + 28 : pos + 28 + caplen]), t, frame, wire_len)
        pos = nxt
    return pos, frame, t
