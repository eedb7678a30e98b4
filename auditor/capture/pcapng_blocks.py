"""pcapng's structure outside the packet loop: block types, sections, interfaces, options."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from auditor.capture.fastpath import MAX_BLOCK

Buf = bytes | bytearray

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


class Damage(Exception):  # noqa: N818 - a control-flow signal inside the reader, not an error
    """The rest of the stream cannot be read; carries the warning text and where."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def block_type(buf: Buf, pos: int, section: Section | None, offset: int) -> tuple[int, str]:
    """The block's type and the byte order it is written in (a section header says its own)."""
    endian = section.endian if section is not None else "<"
    btype: int = struct.unpack_from(endian + "I", buf, pos)[0]
    if btype == SHB:
        found = BYTE_ORDER_MAGIC.get(bytes(buf[pos + 8 : pos + 12]))
        if found is None:
            raise Damage(
                f"corrupt section header at offset {offset}: bad byte-order magic", offset
            )
        endian = found
    return btype, endian


def block_length(buf: Buf, pos: int, base: int, section: Section | None) -> int:
    """The length of the block at ``buf[pos]`` (stream offset ``base + pos``), checked."""
    offset = base + pos
    btype, endian = block_type(buf, pos, section, offset)
    if btype != SHB and section is None:
        raise Damage(f"no section header block at offset {offset}", offset)
    blen: int = struct.unpack_from(endian + "I", buf, pos + 4)[0]
    if blen < 12 or blen % 4 or blen > MAX_BLOCK:
        raise Damage(f"corrupt block length {blen} at offset {offset}", offset)
    return blen


def checked_trailer(buf: Buf, pos: int, blen: int, endian: str, offset: int) -> None:
    trailer = struct.unpack_from(endian + "I", buf, pos + blen - 4)[0]
    if trailer != blen:
        raise Damage(
            f"corrupt block at offset {offset}: length {blen} at its start, {trailer} at its end",
            offset,
        )


def section_header(buf: Buf, pos: int, blen: int, endian: str, offset: int) -> Section:
    if blen < 28:
        raise Damage(f"corrupt section header at offset {offset}: length {blen}", offset)
    major, minor = struct.unpack_from(endian + "HH", buf, pos + 12)
    if major != 1:
        raise Damage(f"unsupported pcapng version {major}.{minor} at offset {offset}", offset)
    return Section(endian)


def interface(  # noqa: PLR0917 - one block's coordinates, as the other block parsers take
    buf: Buf, pos: int, blen: int, section: Section, offset: int, warnings: list[str]
) -> Interface:
    """The interface an IDB describes (appended to ``section`` by the caller)."""
    endian = section.endian
    if blen < 20:
        raise Damage(f"corrupt interface description at offset {offset}: length {blen}", offset)
    link_type, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, pos + 8)
    divisor, ts_offset = 1_000_000, 0
    for code, value in _options(buf, pos + 16, pos + blen - 4, endian):
        if code == 9 and value:
            exponent = value[0] & 0x7F
            divisor = 2**exponent if value[0] & 0x80 else 10**exponent
            if divisor > 10**19:
                warnings.append(
                    f"interface {len(section.interfaces)} at offset {offset}:"
                    " implausible timestamp resolution"
                )
        elif code == 14 and len(value) == 8:
            ts_offset = struct.unpack(endian + "q", value)[0]
    return Interface(link_type, snaplen, divisor, ts_offset)


def leading_section(head: Buf) -> Section | None:
    """The section header and interfaces at the start of a file, before any other block; None
    when the start is broken (the reader then says precisely what is wrong)."""
    section: Section | None = None
    pos = 0
    try:
        while len(head) - pos >= 12:
            btype, endian = block_type(head, pos, section, pos)
            if section is not None and btype not in (IDB, SHB):
                break
            blen = block_length(head, pos, 0, section)
            if len(head) - pos < blen:
                break
            checked_trailer(head, pos, blen, endian, pos)
            if btype == SHB:
                section = section_header(head, pos, blen, endian, pos)
            elif section is not None:
                section.interfaces.append(interface(head, pos, blen, section, pos, []))
            pos += blen
    except Damage:
        return None
    return section


def chain(endian: str, records: int) -> Callable[[bytes, int], bool]:
    """Whether ``records`` plausible blocks chain from an offset on: where a byte range may
    start (blocks start 4-aligned in a well-formed file)."""
    unpack = struct.Struct(endian + "II").unpack_from
    trailer = struct.Struct(endian + "I").unpack_from

    def chained(window: bytes, p: int) -> bool:
        if p % 4:
            return False
        for _ in range(records):
            if p == len(window):
                return True
            if len(window) - p < 12:
                return False
            btype, blen = unpack(window, p)
            if btype not in KNOWN_BLOCKS or blen < 12 or blen % 4 or blen > len(window) - p:
                return False
            if trailer(window, p + blen - 4)[0] != blen:
                return False
            p += blen
        return True

    return chained


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
