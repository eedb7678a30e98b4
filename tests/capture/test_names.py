"""Names read during capture: DNS answers and TLS SNI, alike on every path and across ranges."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from scapy.utils import wrpcap

from auditor.capture import read_capture, taps
from auditor.model import NameSighting, NameSource
from fixtures.meeting import Server, client_hello, meeting_packets, on_ethernet
from tests.capture.makecap import (
    Packet,
    PcapngSection,
    dns_reply,
    ether,
    ipv4,
    ipv6,
    pcap_file,
    pcapng_file,
    tcp,
    udp,
)
from tests.capture.oracle import tshark_names, tshark_quic_sni, without_tcp
from tests.capture.util import read_checked

CLIENT, RESOLVER = "192.168.1.10", "192.168.1.1"
SERVERS = [
    Server("203.0.113.5", 443, "tcp", 3, name="zoom.us"),
    Server("2001:db8::5", 443, "tcp", 3, name="teams.microsoft.com"),
    Server("198.51.100.7", 8801, "udp", 4, name="media.zoom.us"),
    Server("192.0.2.80", 443, "tcp", 2, name="Webex.COM"),
]
DNS, SNI = NameSource.DNS, NameSource.SNI
EXPECTED = (
    NameSighting("203.0.113.5", "zoom.us", DNS),
    NameSighting("203.0.113.5", "zoom.us", SNI),
    NameSighting("2001:db8::5", "teams.microsoft.com", DNS),
    NameSighting("2001:db8::5", "teams.microsoft.com", SNI),
    NameSighting("198.51.100.7", "media.zoom.us", DNS),
    NameSighting("192.0.2.80", "webex.com", DNS),
    NameSighting("192.0.2.80", "webex.com", SNI),
)
SHARED = Path(os.environ.get("AUDITOR_SHARED_DATA", "../shared/data"))
MEETINGS = sorted(p.name for p in (SHARED / "pcaps" / "meetings").glob("*.pcap*"))


def _frames(vlans: tuple[int, ...] = ()) -> list[Any]:
    packets = meeting_packets(CLIENT, SERVERS, resolver=RESOLVER)
    return on_ethernet(packets, CLIENT, vlans)


@pytest.mark.parametrize("vlans", [(), (100,)], ids=["fast-path", "vlan-general-path"])
def test_meeting_names_from_dns_and_sni_in_order(tmp_path: Path, vlans: tuple[int, ...]) -> None:
    path = tmp_path / "meeting.pcap"
    wrpcap(str(path), _frames(vlans))
    result = read_checked(path, parallel=True)
    assert result.names == EXPECTED


def test_pcapng_names_equal_pcap_names(tmp_path: Path) -> None:
    frames = _frames()
    packets: list[Packet | bytes] = [
        Packet(bytes(f), units=round(float(f.time) * 1e6)) for f in frames
    ]
    path = tmp_path / "meeting.pcapng"
    path.write_bytes(pcapng_file([PcapngSection(">", packets=packets)]))
    assert read_checked(path, parallel=True).names == EXPECTED


def _session(hello_at: int, *, v6: bool = False) -> list[bytes]:
    """One client direction whose ClientHello is its ``hello_at``-th packet (1-based)."""
    src, dst = ("2001:db8::1", "2001:db8::443") if v6 else ("10.0.0.1", "192.0.2.44")
    ip, kind = (ipv6, 0x86DD) if v6 else (ipv4, 0x0800)
    flags = [0x02] + [0x10] * (hello_at - 2)
    frames = [ether(ip(src, dst, 6, tcp(40000, 443, f)), kind) for f in flags]
    hello = tcp(40000, 443, 0x18, client_hello("late.example"))
    return [*frames, ether(ip(src, dst, 6, hello), kind)]


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize(("hello_at", "read"), [(3, True), (8, True), (9, False)])
def test_only_a_directions_first_packets_are_looked_at(
    tmp_path: Path, hello_at: int, read: bool, v6: bool
) -> None:
    path = tmp_path / "s.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(_session(hello_at, v6=v6))]))
    names = read_checked(path).names
    assert [n.name for n in names] == (["late.example"] if read else [])


FILLER = ether(ipv4("10.0.0.5", "192.0.2.9", 17, udp(4000, 8801, b"f" * 200)))


@pytest.mark.parametrize(("early", "read"), [(6, True), (7, True), (8, False)])
def test_the_tap_budget_is_kept_across_a_range_boundary(
    tmp_path: Path, ranges: list[int], early: int, read: bool
) -> None:
    """Packets of the direction before the split count against its budget in the next range."""
    session = _session(10)
    hello = session[-1]
    frames = [*session[:early], *[FILLER] * 60, *session[early:-1][: 7 - early], hello]
    frames += [FILLER] * 20
    path = tmp_path / "b.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    one = read_capture(path)
    assert read_capture(path, workers=2) == one
    assert ranges == [2]
    assert [n.name for n in one.names] == (["late.example"] if read else [])


def test_a_held_back_fragment_counts_against_the_budget(tmp_path: Path, ranges: list[int]) -> None:
    """A later fragment of the direction, read in the second range before its ClientHello,
    is counted into the direction only at the merge: it still uses up a look."""
    src, dst = "10.0.0.1", "192.0.2.44"
    first = ether(ipv4(src, dst, 6, tcp(40000, 443, 0x18, b"a" * 16), ident=7, frag=0x2000))
    later = ether(ipv4(src, dst, 6, b"b" * 16, ident=7, frag=(20 + 16) // 8))
    plain = [ether(ipv4(src, dst, 6, tcp(40000, 443, 0x10))) for _ in range(6)]
    hello = ether(ipv4(src, dst, 6, tcp(40000, 443, 0x18, client_hello("frag.example"))))
    other_hello = ether(ipv4(src, "192.0.2.45", 6, tcp(40001, 443, 0x18, client_hello("b.ex"))))
    frames = [*plain, first, *[FILLER] * 60, later, hello, other_hello, *[FILLER] * 20]
    path = tmp_path / "f.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    one = read_checked(path)
    assert read_capture(path, workers=2) == one
    assert ranges == [2]
    assert [n.name for n in one.names] == ["b.ex"]  # the 9th packet of its direction: not read


def test_split_or_fragmented_client_hello(tmp_path: Path) -> None:
    """A hello split over segments is gathered (see test_split_hello.py); one in an IP
    fragment is not read (no IP reassembly)."""
    hello = client_hello("split.example")
    src, dst = "10.0.0.1", "192.0.2.44"
    frames = [
        ether(ipv4(src, dst, 6, tcp(40000, 443, 0x18, hello[:30], seq=1))),
        ether(ipv4(src, dst, 6, tcp(40000, 443, 0x18, hello[30:], seq=31))),
        ether(ipv4(src, dst, 6, tcp(40001, 443, 0x18, hello), frag=0x2000)),
    ]
    path = tmp_path / "split.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    assert read_checked(path).names == (NameSighting(dst, "split.example", SNI),)


def _dns_response(name: str, address: str, port: int = 53) -> bytes:
    return ether(ipv4(RESOLVER, CLIENT, 17, udp(port, 40000, dns_reply(name, address))))


def test_dns_answers_only_from_port_53(tmp_path: Path) -> None:
    frames = [
        _dns_response("a.example", "192.0.2.1"),
        _dns_response("b.example", "2001:db8::b"),
        _dns_response("mdns.local", "192.0.2.2", port=5353),
        _dns_response("a.example", "192.0.2.1"),  # a repeat: kept once
    ]
    path = tmp_path / "d.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    assert read_checked(path).names == (
        NameSighting("192.0.2.1", "a.example", DNS),
        NameSighting("2001:db8::b", "b.example", DNS),
    )


def test_names_beyond_the_limit_are_dropped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(taps, "MAX_NAMES", 2)
    frames = [_dns_response(f"n{i}.example", f"192.0.2.{i}") for i in range(4)]
    path = tmp_path / "d.pcap"
    path.write_bytes(pcap_file([(float(i), f) for i, f in enumerate(frames)]))
    result = read_checked(path)
    assert [n.name for n in result.names] == ["n0.example", "n1.example"]
    assert any("distinct names" in w for w in result.summary.warnings)


@pytest.mark.parametrize("name", MEETINGS)
def test_names_equal_tshark(shared_data: Path, tshark: str, name: str) -> None:
    path = shared_data / "pcaps" / "meetings" / name
    result = read_capture(path)
    sni, dns = tshark_names(tshark, path)
    assert {(n.address, n.name) for n in result.names if n.source == SNI} == sni
    assert {(n.address, n.name) for n in result.names if n.source == DNS} == dns


@pytest.mark.parametrize("name", MEETINGS)
def test_quic_names_equal_tshark(shared_data: Path, tshark: str, name: str, tmp_path: Path) -> None:
    """The captures without TCP: what SNI is left came from QUIC Initials, for both tools."""
    path = without_tcp(tshark, shared_data / "pcaps" / "meetings" / name, tmp_path / "udp.pcapng")
    result = read_checked(path, parallel=True)
    sni, _dns = tshark_names(tshark, path)
    quic = tshark_quic_sni(tshark, path)
    assert {(n.address, n.name) for n in result.names if n.source == SNI} == sni == quic
    if name == "google_meet.pcapng":
        assert quic == {("173.194.73.101", "meet.google.com")}
