"""Fast struct-based writers of hostile capture shapes: flow-table padding, a million servers.

    python -m bench.shapes padding bench/data/padding.pcap.gz
    python -m bench.shapes servers bench/data/servers-1000000.pcap [--servers N]

Like gen.py, these write the bytes directly (scapy would take minutes per million packets).
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CLIENT = "192.168.1.23"
US_SERVER = "216.160.83.57"  # US in MaxMind's GeoIP2-City-Test.mmdb and the bundled data
CN_RELAY = "175.16.199.7"  # China in both
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
_RECORD = struct.Struct("<IIII")
_UDP_FRAME = struct.Struct(">6s6sHBBHHHBBH4s4sHHHH")
ETH_SRC, ETH_DST = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
PAYLOAD = 32  # UDP payload bytes of every packet


def udp_record(ts: float, src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    """One pcap record: Ethernet, IPv4 (no options), UDP with a zero payload of PAYLOAD bytes."""
    frame = _UDP_FRAME.pack(
        ETH_DST, ETH_SRC, 0x0800, 0x45, 0, 28 + PAYLOAD, 1, 0x4000, 64, 17, 0,
        src, dst, sport, dport, 8 + PAYLOAD, 0,
    ) + bytes(PAYLOAD)  # fmt: skip
    sec = int(ts)
    return _RECORD.pack(sec, int((ts - sec) * 1_000_000), len(frame), len(frame)) + frame


def padding_records(flows: int, relay_packets: int) -> Iterator[bytes]:
    """``flows`` one-packet UDP flows from the client to one allowed US server (source ports
    and server ports varied: distinct 5-tuples, one address pair), then ``relay_packets``
    packets each way between the client and a relay in China."""
    client, us, cn = (ipaddress.ip_address(a).packed for a in (CLIENT, US_SERVER, CN_RELAY))
    ts = 1_700_000_000.0
    sports = range(1024, 65536)
    for i in range(flows):
        sport, dport = sports[i % len(sports)], 8801 + i // len(sports)
        yield udp_record(ts + i * 1e-5, client, us, sport, dport)
    ts += flows * 1e-5
    for i in range(relay_packets):
        source, target = (client, cn) if i % 2 == 0 else (cn, client)
        sport, dport = (50000, 8801) if i % 2 == 0 else (8801, 50000)
        yield udp_record(ts + i * 0.02, source, target, sport, dport)


SERVER_SPACE = 0x40000000, 1 << 26  # 64.0.0.0/6: mostly US and Canada, some others


def server_address(index: int, servers: int) -> bytes:
    """The ``index``-th of ``servers`` distinct addresses, spread evenly over SERVER_SPACE (so
    over many database networks)."""
    start, size = SERVER_SPACE
    return (start + 1 + index * (size // servers)).to_bytes(4, "big")


def server_records(servers: int) -> Iterator[bytes]:
    """Two packets per server: a request from the client, and the server's answer."""
    client = ipaddress.ip_address(CLIENT).packed
    ts = 1_700_000_000.0
    for i in range(servers):
        server = server_address(i, servers)
        sport = 1024 + i % 64_000
        yield udp_record(ts + i * 2e-4, client, server, sport, 443)
        yield udp_record(ts + i * 2e-4 + 1e-4, server, client, 443, sport)


_TCP_FRAME = struct.Struct(">6s6sHBBHHHBBH4s4sHHIIBBHHH")
SCAN_TARGET = "64.233.160.10"  # a public address the bundled databases place (US)
SYN, RST_ACK = 0x02, 0x14


def tcp_record(
    ts: float, src: bytes, dst: bytes, sport: int, dport: int, *, flags: int
) -> bytes:
    """One pcap record: Ethernet, IPv4, a bare TCP header (no options, no payload)."""
    frame = _TCP_FRAME.pack(
        ETH_DST, ETH_SRC, 0x0800, 0x45, 0, 40, 1, 0x4000, 64, 6, 0,
        src, dst, sport, dport, 1, 0, 0x50, flags, 1024, 0, 0,
    )  # fmt: skip
    sec = int(ts)
    return _RECORD.pack(sec, int((ts - sec) * 1_000_000), len(frame), len(frame)) + frame


def portscan_records(flows: int, *, answered: bool) -> Iterator[bytes]:
    """A SYN scan of one public host: ``flows`` distinct (source port, port) pairs; answered:
    each SYN gets the RST/ACK of a closed port (two packets a flow), else one-way."""
    client, target = (ipaddress.ip_address(a).packed for a in (CLIENT, SCAN_TARGET))
    ts = 1_700_000_000.0
    for i in range(flows):
        sport, dport = 1024 + (i // 65535) % 64000, 1 + i % 65535
        yield tcp_record(ts + i * 1e-5, client, target, sport, dport, flags=SYN)
        if answered:
            yield tcp_record(ts + i * 1e-5 + 5e-6, target, client, dport, sport, flags=RST_ACK)


def public_server_records(servers: int, packets: int) -> Iterator[bytes]:
    """``packets`` UDP packets spread round-robin over ``servers`` public servers on 443, each
    answering every request: a browsing-and-meeting mix of many located servers."""
    client = ipaddress.ip_address(CLIENT).packed
    addresses = [server_address(i, servers) for i in range(servers)]
    ts = 1_700_000_000.0
    for i in range(packets):
        server = addresses[(i // 2) % servers]
        sport = 1024 + (i // 2) % servers % 64000
        if i % 2 == 0:
            yield udp_record(ts + i * 1e-5, client, server, sport, 443)
        else:
            yield udp_record(ts + i * 1e-5, server, client, 443, sport)


VOIP_SERVERS = ("64.233.160.20", "64.233.160.21", "64.233.160.22", "64.233.160.23")


def voip_records(packets: int) -> Iterator[bytes]:
    """RTP-sized packets (94-194 bytes on the wire) both ways to four media servers."""
    client = ipaddress.ip_address(CLIENT).packed
    servers = [ipaddress.ip_address(a).packed for a in VOIP_SERVERS]
    ts = 1_700_000_000.0
    for i in range(packets):
        server, size = servers[i % 4], 52 + (i * 37) % 101  # payload: frame 94..194 bytes
        sport = 50000 + i % 4
        if i % 2 == 0:
            yield voip_record(ts + i * 1e-4, client, server, sport, 3478, payload=size)
        else:
            yield voip_record(ts + i * 1e-4, server, client, 3478, sport, payload=size)


def voip_record(
    ts: float, src: bytes, dst: bytes, sport: int, dport: int, *, payload: int
) -> bytes:
    frame = _UDP_FRAME.pack(
        ETH_DST, ETH_SRC, 0x0800, 0x45, 0, 28 + payload, 1, 0x4000, 64, 17, 0,
        src, dst, sport, dport, 8 + payload, 0,
    ) + b"\x80" + bytes(payload - 1)  # fmt: skip
    sec = int(ts)
    return _RECORD.pack(sec, int((ts - sec) * 1_000_000), len(frame), len(frame)) + frame


def write_pcap(path: Path, records: Iterator[bytes], *, compress: bool = False) -> Path:
    """Write a little-endian microsecond pcap (gzip level 1 when ``compress``)."""
    stream: BinaryIO
    with path.open("wb") as raw:
        stream = raw
        if compress:
            stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1)  # type: ignore[assignment]
        try:
            stream.write(PCAP_HEADER)
            batch: list[bytes] = []
            for record in records:
                batch.append(record)
                if len(batch) >= 20_000:
                    stream.write(b"".join(batch))
                    batch.clear()
            stream.write(b"".join(batch))
        finally:
            if compress:
                stream.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=["padding", "servers"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--flows", type=int, default=1_100_000, help="padding flows")
    parser.add_argument("--servers", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.shape == "padding":
        write_pcap(args.path, padding_records(args.flows, 500), compress=True)
    else:
        write_pcap(args.path, server_records(args.servers))


if __name__ == "__main__":
    main()
