"""Each direction's tap budget, worked out once per direction, against an oracle written apart:
dpkt reads the real captures packet by packet and classifies the first packets of every
direction (UDP 32, TCP 8; all of a DNS answer direction's), as the budget says."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import dpkt
import pytest

from auditor.capture import read_capture
from auditor.model import NO_PAYLOAD, PayloadKind
from auditor.roles import payload_kind
from tests.capture.makecap import addr, ether, ipv4, pcap_file, udp

MEETINGS = Path("pcaps") / "meetings"
# Ethernet captures without tunnels or IP fragments: the oracle below reads no more than that.
PLAIN = ["discord.pcap", "skype-conference-call.pcap", "stun_dtls_rtp.pcapng", "teams.pcap",
         "telegram_videocall.pcapng", "webex.pcap", "stun_zoom.pcapng"]  # fmt: skip
BUDGET = {6: 8, 17: 32}
STUN_BINDING = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12)


def _packets(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(0)
        reader = dpkt.pcapng.Reader(f) if head == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(f)
        return [bytes(data) for _ts, data in reader]


def _oracle(path: Path) -> dict[tuple[int, bytes, bytes], PayloadKind]:
    """(protocol, address pair, ports) of each direction -> kinds of its looked-at payloads."""
    seen: dict[tuple[int, bytes, bytes], int] = defaultdict(int)
    kinds: dict[tuple[int, bytes, bytes], PayloadKind] = defaultdict(lambda: NO_PAYLOAD)
    for frame in _packets(path):
        ip = dpkt.ethernet.Ethernet(frame).data
        if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
            continue
        segment = ip.data
        if not isinstance(segment, dpkt.tcp.TCP | dpkt.udp.UDP):
            continue
        proto = 6 if isinstance(segment, dpkt.tcp.TCP) else 17
        key = (proto, bytes(ip.src) + bytes(ip.dst), bytes(segment)[:4])
        index = seen[key]
        seen[key] += 1
        dns_answer = proto == 17 and segment.sport == 53
        if index >= BUDGET[proto] and not dns_answer:
            continue
        dns = 53 in (segment.sport, segment.dport)
        kinds[key] |= payload_kind(proto, bytes(segment.data), dns)
    return kinds


@pytest.mark.parametrize("name", PLAIN)
def test_payload_kinds_of_each_flow_match_the_oracle(shared_data: Path, name: str) -> None:
    path = shared_data / MEETINGS / name
    expected = _oracle(path)
    flows = read_capture(path).flows
    assert flows
    assert any(expected.values())
    for flow in flows:
        if flow.protocol not in BUDGET:
            continue
        a, b = addr(flow.a), addr(flow.b)
        ab, ba = flow.a_port.to_bytes(2, "big"), flow.b_port.to_bytes(2, "big")
        want = expected[(flow.protocol, a + b, ab + ba)] | expected[(flow.protocol, b + a, ba + ab)]
        assert flow.payloads == want, flow


def _udp_direction(tmp_path: Path, sport: int, payloads: list[bytes]) -> PayloadKind:
    frames = [ether(ipv4("10.0.0.1", "198.51.100.3", 17, udp(sport, 40000, p)))
              for p in payloads]  # fmt: skip
    path = tmp_path / "c.pcap"
    path.write_bytes(pcap_file([(1_600_000_000 + i / 100, f) for i, f in enumerate(frames)]))
    (flow,) = read_capture(path).flows
    return flow.payloads


@pytest.mark.parametrize(("filler", "seen"), [(31, True), (32, False)])
def test_a_udp_direction_is_looked_at_for_its_first_32_packets(
    tmp_path: Path, filler: int, seen: bool
) -> None:
    kinds = _udp_direction(tmp_path, 3478, [bytes(32)] * filler + [STUN_BINDING])
    assert bool(kinds & PayloadKind.STUN) is seen


def test_a_dns_answer_direction_has_no_budget(tmp_path: Path) -> None:
    kinds = _udp_direction(tmp_path, 53, [bytes(3)] * 40 + [bytes(12)])
    assert kinds & PayloadKind.DNS
