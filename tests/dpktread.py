"""Real captures read with dpkt, apart from the auditor's own reader: an independent view of
the UDP and TCP payloads for the parsers' tests."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dpkt


@dataclass(frozen=True, slots=True)
class Segment:
    """One UDP or TCP packet: its addresses, ports and payload."""

    proto: int
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


def segments(path: Path) -> Iterator[Segment]:
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(0)
        pcapng = head == b"\x0a\x0d\x0d\x0a"
        reader = dpkt.pcapng.Reader(handle) if pcapng else dpkt.pcap.Reader(handle)
        link = reader.datalink()
        for _, frame in reader:
            ip = ip_of(frame, link)
            if ip is None or not isinstance(ip.data, dpkt.udp.UDP | dpkt.tcp.TCP):
                continue
            proto = 17 if isinstance(ip.data, dpkt.udp.UDP) else 6
            yield Segment(
                proto, str(ipaddress.ip_address(ip.src)), ip.data.sport,
                str(ipaddress.ip_address(ip.dst)), ip.data.dport, bytes(ip.data.data),
            )  # fmt: skip


def ip_of(frame: bytes, link: int) -> dpkt.ip.IP | dpkt.ip6.IP6 | None:
    try:
        if link == dpkt.pcap.DLT_EN10MB:
            packet = dpkt.ethernet.Ethernet(frame).data
        elif link == dpkt.pcap.DLT_LINUX_SLL:
            packet = dpkt.sll.SLL(frame).data
        else:
            packet = dpkt.ip.IP(frame) if frame[0] >> 4 == 4 else dpkt.ip6.IP6(frame)
    except (dpkt.UnpackError, IndexError):
        return None
    return packet if isinstance(packet, dpkt.ip.IP | dpkt.ip6.IP6) else None
