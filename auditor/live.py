"""Live capture with scapy into a pcap file, which is then audited like any other capture.

Writing the packets to a file first, instead of auditing them in memory as they arrive, keeps
one reader as the single source of truth for decoding, and leaves the evidence on disk: a
compliance finding is worth little if nobody can show the packets behind it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.errors import CaptureError, UsageError

if TYPE_CHECKING:  # scapy is an optional extra, imported only when capturing
    from scapy.packet import Packet


@dataclass(frozen=True, slots=True)
class LiveCapture:
    path: str
    packets: int


def capture_live(
    interface: str,
    output: Path,
    *,
    duration: float | None,
    count: int | None,
    on_packet: Callable[[int], None] | None = None,
) -> LiveCapture:
    """Sniff `interface` until `duration` seconds or `count` packets, writing `output` (pcap)."""
    if duration is None and count is None:
        raise UsageError("live capture needs --duration SECONDS or --count PACKETS to stop")
    try:
        from scapy.sendrecv import sniff
        from scapy.utils import PcapWriter
    except ImportError as error:
        raise UsageError("live capture needs scapy: pip install 'auditor[live]'") from error
    written = 0
    try:
        writer = PcapWriter(str(output), sync=False)
    except OSError as error:
        raise CaptureError(str(output), f"cannot write capture: {error.strerror}") from error

    def keep(packet: Packet) -> None:
        nonlocal written
        writer.write(packet)
        written += 1
        if on_packet is not None:
            on_packet(written)

    try:
        sniff(iface=interface, prn=keep, store=False, timeout=duration, count=count or 0)
    except PermissionError as error:
        raise CaptureError(interface, "permission denied: live capture needs root or "
                           "CAP_NET_RAW") from error
    except OSError as error:
        raise CaptureError(interface, f"cannot capture: {error.strerror or error}") from error
    finally:
        writer.close()
    if written == 0:
        _write_empty_pcap(output)
    return LiveCapture(str(output), written)


def _write_empty_pcap(path: Path) -> None:
    # PcapWriter writes its header only with the first packet; an empty capture is still a
    # valid (if empty) audit, not an unreadable file.
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
