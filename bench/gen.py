"""Fast struct-based writer of big synthetic meeting captures (pcap and pcapng) with truth."""

from __future__ import annotations

import ipaddress
import random
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

CLIENT4 = "192.168.1.23"
CLIENT6 = "2001:db8:1::23"
DURATION = 3600.0  # one hour of meeting


@dataclass(frozen=True)
class FlowSpec:
    proto: int
    src: str
    sport: int
    dst: str
    dport: int
    weight: float
    sizes: tuple[int, ...]  # transport payload sizes to pick from
    vlan: bool = False

    @property
    def key(self) -> tuple[int, str, int, str, int]:
        return (self.proto, self.src, self.sport, self.dst, self.dport)


def meeting_flows(seed: int = 4) -> list[FlowSpec]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    flows: list[FlowSpec] = []
    media = (160, 240, 900, 1100, 1180, 1200)
    for i in range(12):  # UDP media to and from Zoom-like servers
        server = f"203.0.113.{10 + i}"
        port = rng.randint(50000, 60000)
        flows.append(FlowSpec(17, CLIENT4, port, server, 8801, 2.0, media))
        flows.append(FlowSpec(17, server, 8801, CLIENT4, port, 4.0, media))
    for i in range(3):  # TURN relays
        relay = f"198.51.100.{20 + i}"
        port = rng.randint(50000, 60000)
        flows.append(FlowSpec(17, CLIENT4, port, relay, 3478, 0.8, media))
        flows.append(FlowSpec(17, relay, 3478, CLIENT4, port, 1.2, media))
    for i in range(4):  # IPv6 media
        server = f"2001:db8:ff::{i + 1:x}"
        port = rng.randint(50000, 60000)
        flows.append(FlowSpec(17, CLIENT6, port, server, 19302, 0.6, media))
        flows.append(FlowSpec(17, server, 19302, CLIENT6, port, 0.9, media))
    for i in range(8):  # TLS signalling over TCP 443
        server = f"192.0.2.{100 + i}"
        port = rng.randint(40000, 49999)
        flows.append(FlowSpec(6, CLIENT4, port, server, 443, 0.25, (0, 100, 517, 1460)))
        flows.append(FlowSpec(6, server, 443, CLIENT4, port, 0.35, (0, 1460, 1460, 300)))
    for i in range(2):  # a VLAN-tagged leg (some enterprise captures)
        server = f"203.0.113.{200 + i}"
        port = rng.randint(50000, 60000)
        flows.append(FlowSpec(17, CLIENT4, port, server, 8801, 0.25, media, vlan=True))
        flows.append(FlowSpec(17, server, 8801, CLIENT4, port, 0.35, media, vlan=True))
    for i in range(30):  # DNS lookups
        flows.append(FlowSpec(17, CLIENT4, 30000 + i, "192.168.1.1", 53, 0.002, (40,)))
        flows.append(FlowSpec(17, "192.168.1.1", 53, CLIENT4, 30000 + i, 0.002, (120,)))
    return flows


def _frame(spec: FlowSpec, size: int) -> tuple[bytes, int]:
    """(Ethernet frame, IP-layer length)."""
    src, dst = ipaddress.ip_address(spec.src), ipaddress.ip_address(spec.dst)
    if spec.proto == 17:
        l4 = struct.pack(">HHHH", spec.sport, spec.dport, 8 + size, 0) + bytes(size)
    else:
        l4 = struct.pack(">HHIIBBHHH", spec.sport, spec.dport, 1, 1, 0x50, 0x18, 512, 0, 0)
        l4 += bytes(size)
    if src.version == 4:
        ip = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, spec.proto, 0)
        ip += src.packed + dst.packed + l4
        ethertype = 0x0800
    else:
        ip = struct.pack(">IHBB", 0x60000000, len(l4), spec.proto, 64) + src.packed + dst.packed
        ip += l4
        ethertype = 0x86DD
    eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
    if spec.vlan:
        eth += struct.pack(">HH", 0x8100, 42)
    frame = eth + struct.pack(">H", ethertype) + ip
    return frame + bytes(max(0, 60 - len(frame))), len(ip)


@dataclass
class Truth:
    packets: Counter[tuple[int, str, int, str, int]]
    ip_bytes: Counter[tuple[int, str, int, str, int]]
    frame_bytes: Counter[tuple[int, str, int, str, int]]


def generate(pcap_path: Path, pcapng_path: Path, packets: int, seed: int = 4) -> Truth:
    """Write the same packets as pcap and as pcapng; return the per-direction truth."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    specs = meeting_flows(seed)
    templates = [[_frame(spec, size) for size in spec.sizes] for spec in specs]
    picks = rng.choices(range(len(specs)), weights=[s.weight for s in specs], k=packets)
    truth = Truth(Counter(), Counter(), Counter())
    step = DURATION / packets
    ts_us = 1_700_000_000 * 1_000_000
    pcap_head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 262144) + struct.pack("<I", 20)
    rec = struct.Struct("<IIII").pack
    epb = struct.Struct("<IIIIIII").pack
    with pcap_path.open("wb") as fp, pcapng_path.open("wb") as fng:
        fp.write(pcap_head)
        fng.write(shb + idb)
        out_p: list[bytes] = []
        out_n: list[bytes] = []
        for i, pick in enumerate(picks):
            frame, ip_len = rng.choice(templates[pick])
            key = specs[pick].key
            truth.packets[key] += 1
            truth.ip_bytes[key] += ip_len
            truth.frame_bytes[key] += len(frame)
            ts = ts_us + int(i * step * 1_000_000) + rng.randint(0, 50)
            n = len(frame)
            out_p.append(rec(ts // 1_000_000, ts % 1_000_000, n, n))
            out_p.append(frame)
            pad = -n % 4
            blen = 32 + n + pad
            out_n.append(epb(6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, n, n))
            out_n.append(frame + bytes(pad) + struct.pack("<I", blen))
            if len(out_p) > 20000:
                fp.write(b"".join(out_p))
                fng.write(b"".join(out_n))
                out_p.clear()
                out_n.clear()
        fp.write(b"".join(out_p))
        fng.write(b"".join(out_n))
    return truth
