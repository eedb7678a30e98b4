"""The capture's wire taps on real captures: STUN/TURN addresses and REALM against nDPI, HTTP
Host, STUN round trips, payload kinds, and tunnels decapsulated (GTP-U against tshark; GRE,
VXLAN, Geneve, IP-in-IP made with scapy)."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from scapy.contrib.geneve import GENEVE
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import GRE, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet
from scapy.utils import wrpcap

from auditor.capture import read_capture
from auditor.model import NameSource, PayloadKind, SignalledKind
from tests.capture.util import read_checked

MEETINGS = Path("pcaps") / "meetings"
EXPECTED = re.compile(r"\[(Mapped|Relayed|Peer) IP/Port: \[?([0-9a-fA-F.:]+?)\]?:(\d+)\]")
KINDS = {"Mapped": SignalledKind.MAPPED, "Relayed": SignalledKind.RELAYED,
         "Peer": SignalledKind.PEER}  # fmt: skip
# Every address nDPI lists is found in these; teams.pcap's MS-TURN finds 4 of 8 (see the note).
WHOLE = [
    "skype-conference-call.pcap", "stun_dtls_rtp.pcapng", "stun_google_meet.pcapng",
    "stun_msteams_unidir.pcapng", "stun_wa_call.pcapng", "stun_zoom.pcapng",
    "telegram_videocall.pcapng",
]  # fmt: skip


@pytest.mark.parametrize("name", WHOLE)
def test_signalled_addresses_match_ndpi(shared_data: Path, name: str) -> None:
    folder = shared_data / MEETINGS
    text = (folder / "ndpi-expected" / f"{name}.out").read_text()
    expected = {(KINDS[m[1]], m[2], int(m[3])) for m in EXPECTED.finditer(text)}
    result = read_checked(folder / name, parallel=True)
    found = {(s.kind, s.address, s.port) for s in result.signalled}
    assert expected
    assert expected <= found


def test_teams_ms_turn_allocations_are_relays(shared_data: Path) -> None:
    # MS-TURN's Allocate answer: unpadded, the allocated address in MAPPED-ADDRESS (nDPI
    # prints it as "Mapped"); its XOR-MAPPED-ADDRESS is the client's reflexive address.
    result = read_capture(shared_data / MEETINGS / "teams.pcap")
    found = {(s.address, s.port) for s in result.signalled if s.kind is SignalledKind.RELAYED}
    assert {("52.114.250.137", 3480), ("52.114.250.141", 3480)} <= found


@pytest.mark.parametrize(
    ("name", "server", "realm"),
    [
        ("stun_dtls_rtp.pcapng", "142.250.82.249", "turn.l.google.com"),
        ("telegram_videocall.pcapng", "91.108.9.35", "telegram.org"),
    ],
)
def test_stun_realm_names_the_server(shared_data: Path, name: str, server: str, realm: str) -> None:
    names = read_capture(shared_data / MEETINGS / name).names
    assert (server, realm) in {(n.address, n.name) for n in names if
                               n.source is NameSource.STUN_REALM}  # fmt: skip


def test_http_host_names_the_server(shared_data: Path) -> None:
    names = read_checked(shared_data / MEETINGS / "webex.pcap", parallel=True).names
    assert ("78.46.237.91", "cp.pushwoosh.com", NameSource.HTTP_HOST) in {
        (n.address, n.name, n.source) for n in names
    }


def test_stun_round_trips_and_payload_kinds(shared_data: Path) -> None:
    flows = read_capture(shared_data / MEETINGS / "stun_dtls_rtp.pcapng").flows
    (meet,) = [f for f in flows if f.b == "142.250.82.76" and f.b_port == 19305]
    assert meet.payloads & (PayloadKind.STUN | PayloadKind.DTLS | PayloadKind.RTP) == (
        PayloadKind.STUN | PayloadKind.DTLS | PayloadKind.RTP
    )
    assert meet.stun_delay is not None
    assert 0 < meet.stun_delay < 1
    assert meet.stun_samples >= 1
    (turn,) = [f for f in flows if f.b == "142.250.82.249"]
    assert turn.payloads & PayloadKind.TURN


def _tshark_gtp_inner(tshark: str, path: Path) -> Counter[tuple[str, str, str, str]]:
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-Y", "gtp", "-T", "fields", "-E", "occurrence=l",
         "-e", "ip.src", "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.dstport"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return Counter(tuple(line.split("\t")) for line in out.splitlines() if line)  # type: ignore[misc]


def test_gtp_inner_flows_equal_tshark(shared_data: Path, tshark: str) -> None:
    path = shared_data / MEETINGS / "zoom.pcap"
    inner = _tshark_gtp_inner(tshark, path)
    assert sum(inner.values()) == 81
    result = read_checked(path, parallel=True)
    flows = {(f.a, str(f.a_port), f.b, str(f.b_port)): f for f in result.flows}
    for (src, dst, sport, dport), count in inner.items():
        flow = flows.get((src, sport, dst, dport))
        back = flows.get((dst, dport, src, sport))
        assert flow is not None or back is not None, (src, dst)
        if flow is not None:
            assert flow.packets_ab == count
        else:
            assert back is not None
            assert back.packets_ba == count
    (outer,) = [f for f in result.flows if f.a_port == f.b_port == 2152]
    assert outer.packets == 81
    assert outer.payloads & PayloadKind.TUNNEL
    assert result.summary.tunnelled_packets == 81


INNER = IP(src="10.9.8.7", dst="203.0.113.80") / UDP(sport=40000, dport=8801) / (b"\x05" * 40)


def _outer(payload: Packet, proto: int | None = None, dport: int | None = None) -> Packet:
    ip = IP(src="192.0.2.1", dst="192.0.2.2")
    if proto is not None:
        return Ether() / IP(src="192.0.2.1", dst="192.0.2.2", proto=proto) / payload
    return Ether() / ip / UDP(sport=50000, dport=dport) / payload


@pytest.mark.parametrize(
    "frame",
    [
        _outer(VXLAN(vni=5) / Ether() / INNER, dport=4789),
        _outer(GENEVE(vni=5, proto=0x0800) / INNER, dport=6081),
        _outer(GRE(proto=0x0800) / INNER, proto=47),
        _outer(INNER, proto=4),
        _outer(GRE(proto=0x6558) / Ether() / INNER, proto=47),
    ],
    ids=["vxlan", "geneve", "gre", "ipip", "gre-ethernet"],
)
def test_tunnels_are_decapsulated(tmp_path: Path, frame: Packet) -> None:
    path = tmp_path / "tunnel.pcap"
    wrpcap(str(path), [frame, frame])
    result = read_checked(path)
    inner = [f for f in result.flows if f.b == "203.0.113.80"]
    assert [(f.a, f.a_port, f.b_port, f.packets) for f in inner] == [("10.9.8.7", 40000, 8801, 2)]
    (outer,) = [f for f in result.flows if f.b == "192.0.2.2"]
    assert outer.payloads & PayloadKind.TUNNEL
    assert (result.summary.ip_packets, result.summary.tunnelled_packets) == (2, 2)


def test_tunnel_depth_is_bounded(tmp_path: Path) -> None:
    packet: Packet = INNER
    for _ in range(6):  # IP-in-IP six deep: four are followed, the rest said so
        packet = IP(src="192.0.2.1", dst="192.0.2.2", proto=4) / packet
    path = tmp_path / "deep.pcap"
    wrpcap(str(path), [Ether() / packet])
    result = read_checked(path)
    assert not [f for f in result.flows if f.b == "203.0.113.80"]
    assert any("tunnel nested deeper than 4" in w for w in result.summary.warnings)
    assert result.summary.ip_packets == 1
