"""tshark as the independent oracle: per-address packet counts and IP bytes."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from auditor.model import Flow


def tshark_endpoint_packets(tshark: str, path: Path) -> Counter[str]:
    """Packets per address from ``-z endpoints,ip`` and ``-z endpoints,ipv6``."""
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-q", "-z", "endpoints,ip", "-z", "endpoints,ipv6"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[1].isdigit() and (":" in parts[0] or "." in parts[0]):
            counts[parts[0]] += int(parts[1])
    return counts


def tshark_ip_bytes(tshark: str, path: Path) -> Counter[str]:
    """IP-layer bytes per address of the outermost IP header (ip.len, or 40 + ipv6.plen)."""
    out = subprocess.run(
        [
            tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f",
            "-e", "ip.src", "-e", "ip.dst", "-e", "ip.len",
            "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.plen",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        fields = (line.split("\t") + [""] * 6)[:6]
        if fields[0] and fields[2]:
            src, dst, size = fields[0], fields[1], int(fields[2])
        elif fields[3] and fields[5]:
            src, dst, size = fields[3], fields[4], 40 + int(fields[5])
        else:
            continue
        counts[src] += size
        counts[dst] += size
    return counts


def flow_endpoints(flows: tuple[Flow, ...]) -> tuple[Counter[str], Counter[str]]:
    """Packets and bytes per address, as tshark's endpoint table sums them."""
    packets: Counter[str] = Counter()
    nbytes: Counter[str] = Counter()
    for flow in flows:
        for address in (flow.a, flow.b):
            packets[address] += flow.packets
            nbytes[address] += flow.bytes
    return packets, nbytes
