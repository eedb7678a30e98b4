"""Which format a capture is, from its magic number, and that format with its header read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from auditor.capture import pcap
from auditor.capture.pcapng import PcapngFormat
from auditor.capture.pcapng_blocks import SHB, leading_section
from auditor.capture.source import ByteSource
from auditor.capture.surface import Format
from auditor.errors import CaptureError


def sniff(name: str, head: bytes, src: ByteSource) -> Format:
    """The format of the stream whose first bytes are ``head``; CaptureError for anything that
    is no capture, or a pcap file whose header cannot be read."""
    if len(head) < 4:
        if src.damage is not None:
            raise CaptureError(name, src.damage)
        if not head:
            raise CaptureError(name, "empty file, not a pcap or pcapng capture")
        raise CaptureError(name, f"file too short to be a capture ({len(head)} bytes)")
    magic = int.from_bytes(head[:4], "big")
    if magic in pcap.MAGICS:
        return pcap.parse_header(name, head)
    if magic == SHB:
        # A broken start is no error yet: the reader says precisely what is wrong, in order.
        return PcapngFormat(leading_section(head))
    what = "gzip-compressed data" if src.compressed else "file"
    raise CaptureError(name, f"not a pcap or pcapng {what} (magic 0x{magic:08x})")



@contextmanager
def opened(
    name: str, progress: Callable[[int, int], None] | None = None
) -> Iterator[tuple[ByteSource, bytes, Format]]:
    """The capture's byte stream (plain or gzip, maybe a pipe), its first chunk and its format.

    The one place a whole capture is opened: a pipe cannot be opened twice, so the one-pass
    reader goes on from the very stream that was sniffed.
    """
    src = ByteSource(name, progress=progress)
    try:
        head = src.read()
        yield src, head, sniff(name, head, src)
    finally:
        src.close()
