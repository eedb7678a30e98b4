"""Link types, VLAN tags, IPv4 options and fragments, IPv6 extension headers."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.capture.makecap import (
    ah,
    ether,
    ext8,
    frag6,
    ipv4,
    ipv6,
    null,
    pcap_file,
    sll,
    sll2,
    tcp,
    udp,
)
from tests.capture.util import one_flow, write_and_read

V4 = ipv4("10.1.1.1", "203.0.113.5", 17, udp(1111, 3478, b"s" * 20))  # 48 bytes
V6 = ipv6("2001:db8::1", "2001:db8:0:0::abcd", 17, udp(1111, 3478, b"s" * 20))  # 68 bytes


def _ppp(payload: bytes, proto: int) -> bytes:
    return b"\xff\x03" + struct.pack(">H", proto) + payload


def _pktap(inner_link: int, frame: bytes) -> bytes:
    return struct.pack("<II", 108, inner_link) + bytes(100) + frame


def _ppi(inner_link: int, frame: bytes) -> bytes:
    return struct.pack("<BBHI", 0, 0, 8, inner_link) + frame


LINK_CASES = [
    ("ethernet", 1, ether(V4), 4),
    ("ethernet-v6", 1, ether(V6, 0x86DD), 6),
    ("null-le", 0, null(V4, 2, "<"), 4),
    ("null-be", 0, null(V4, 2, ">"), 4),
    ("null-v6-bsd", 0, null(V6, 24, "<"), 6),
    ("null-v6-freebsd", 0, null(V6, 28, "<"), 6),
    ("null-v6-darwin", 0, null(V6, 30, ">"), 6),
    ("loop", 108, null(V4, 2, ">"), 4),
    ("loop-v6", 108, null(V6, 30, ">"), 6),
    ("sll", 113, sll(V4), 4),
    ("sll-v6", 113, sll(V6, 0x86DD), 6),
    ("sll2", 276, sll2(V4), 4),
    ("sll2-v6", 276, sll2(V6, 0x86DD), 6),
    ("raw-101-v4", 101, V4, 4),
    ("raw-101-v6", 101, V6, 6),
    ("raw-12", 12, V4, 4),
    ("raw-14", 14, V6, 6),
    ("ipv4-228", 228, V4, 4),
    ("ipv6-229", 229, V6, 6),
    ("ppp", 9, _ppp(V4, 0x0021), 4),
    ("ppp-v6", 9, _ppp(V6, 0x0057), 6),
    ("ppp-hdlc", 50, _ppp(V4, 0x0021), 4),
    ("chdlc", 104, b"\x0f\x00\x08\x00" + V4, 4),
    ("pktap", 258, _pktap(1, ether(V4)), 4),
    ("ppi", 192, _ppi(1, ether(V6, 0x86DD)), 6),
    ("vlan", 1, ether(V4, vlans=(0x8100,)), 4),
    ("qinq", 1, ether(V4, vlans=(0x88A8, 0x8100)), 4),
    ("qinq-9100", 1, ether(V6, 0x86DD, vlans=(0x9100, 0x8100)), 6),
    ("three-tags", 1, ether(V4, vlans=(0x88A8, 0x8100, 0x8100)), 4),
    ("pppoe", 1, ether(bytes(6) + struct.pack(">H", 0x0021) + V4, 0x8864), 4),
    ("mpls", 1, ether(b"\x00\x01\x01\x40" + V4, 0x8847), 4),
    ("llc-snap", 1, ether(b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + V4, len(V4) + 8), 4),
]


@pytest.mark.parametrize(
    ("link_type", "frame", "version"),
    [case[1:] for case in LINK_CASES],
    ids=[case[0] for case in LINK_CASES],
)
def test_link_types(tmp_path: Path, link_type: int, frame: bytes, version: int) -> None:
    result = write_and_read(tmp_path, pcap_file([(1.0, frame), (2.0, frame)], link_type))
    flow = one_flow(result)
    if version == 4:
        assert (flow.a, flow.b, flow.bytes_ab) == ("10.1.1.1", "203.0.113.5", 96)
    else:
        assert (flow.a, flow.b, flow.bytes_ab) == ("2001:db8::1", "2001:db8::abcd", 136)
    assert (flow.protocol, flow.a_port, flow.b_port, flow.packets_ab) == (17, 1111, 3478, 2)
    assert result.summary.link_types == (link_type,)
    assert result.summary.skipped == {}


@pytest.mark.parametrize("link_type", [105, 127, 195, 285])
def test_unsupported_link_type_is_counted_not_fatal(tmp_path: Path, link_type: int) -> None:
    result = write_and_read(tmp_path, pcap_file([(1.0, V4)] * 3, link_type))
    assert result.flows == ()
    assert result.summary.skipped == {f"link type {link_type} (not supported)": 3}
    assert result.summary.complete


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (ether(bytes(28), 0x0806), "non-IP ethertype 0x0806"),
        (ether(bytes(40), 0x88CC, vlans=(0x8100,)), "non-IP ethertype 0x88cc"),
        (ether(V4)[: 14 + 12], "truncated IPv4 header"),
        (ether(V6, 0x86DD)[: 14 + 30], "truncated IPv6 header"),
        (ether(ipv4("1.1.1.1", "2.2.2.2", 17, udp(1, 2), total=12)), "bad IPv4 total length"),
        (ether(b"\x44" + V4[1:]), "bad IPv4 header length"),
        (ether(b"\x50" + V4[1:]), "bad IPv4 version 5"),
        (ether(b"\x40" + V6[1:], 0x86DD), "bad IPv6 version 4"),
        (ether(b"\xaa\xaa\x03\x00\x00\x00\x08\x06" + bytes(28), 36), "non-IP ethertype 0x0806"),
        (ether(bytes(40), 40), "802.3 frame without IP"),
        (null(V4, 99), "loopback family 99"),
    ],
)
def test_frames_without_usable_ip_are_skipped_by_reason(
    tmp_path: Path, frame: bytes, reason: str
) -> None:
    link = 0 if reason.startswith("loopback") else 1
    result = write_and_read(tmp_path, pcap_file([(1.0, frame)], link))
    assert result.flows == ()
    assert result.summary.skipped == {reason: 1}
    assert result.summary.packets == 1


def test_ipv6_header_under_the_ipv4_ethertype_is_read_as_ipv6(tmp_path: Path) -> None:
    # What Wireshark does; LINKTYPE_IPV4 (228) captures carrying IPv6 exist in the wild.
    result = write_and_read(tmp_path, pcap_file([(1.0, V6)], 228))
    assert one_flow(result).a == "2001:db8::1"


def test_ipv4_options_move_the_transport_header(tmp_path: Path) -> None:
    packet = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1234, 443, 0x02), options=b"\x01\x01\x01\x00")
    result = write_and_read(tmp_path, pcap_file([(1.0, ether(packet))]))
    flow = one_flow(result)
    assert (flow.a_port, flow.b_port, flow.bytes_ab, flow.syn_ab) == (1234, 443, 44, True)


def test_ipv4_fragments_follow_their_first_fragment(tmp_path: Path) -> None:
    head = udp(5000, 53, b"q" * 32)  # 40 bytes: offsets are in 8-byte units
    first = ipv4("10.0.0.1", "10.0.0.2", 17, head, ident=7, frag=0x2000)
    middle = ipv4("10.0.0.1", "10.0.0.2", 17, b"x" * 16, ident=7, frag=0x2000 | 5)
    last = ipv4("10.0.0.1", "10.0.0.2", 17, b"y" * 8, ident=7, frag=7)
    orphan = ipv4("10.0.0.1", "10.0.0.2", 17, b"z" * 8, ident=8, frag=20)
    records = [(1.0, ether(first)), (2.0, ether(middle)), (3.0, ether(last)), (4.0, ether(orphan))]
    result = write_and_read(tmp_path, pcap_file(records))
    by_port = {f.a_port: f for f in result.flows}
    assert (by_port[5000].packets_ab, by_port[5000].bytes_ab) == (3, 60 + 36 + 28)
    assert (by_port[0].packets_ab, by_port[0].bytes_ab, by_port[0].protocol) == (1, 28, 17)
    assert result.summary.ip_packets == 4


def test_ipv6_extension_headers_are_walked(tmp_path: Path) -> None:
    src, dst = "2001:db8::1", "2001:db8::2"
    packets = [
        ipv6(src, dst, 17, udp(7000, 7001), ext=((0, ext8()), (43, ext8(1)), (60, ext8()))),
        ipv6(src, dst, 6, tcp(7002, 443, 0x02), ext=((51, ah()),)),
        ipv6(src, dst, 17, udp(7000, 7001, b"a" * 16), ext=((44, frag6(0, True, 9)),)),
        ipv6(src, dst, 17, b"b" * 16, ext=((44, frag6(3, False, 9)),)),
        ipv6(src, dst, 58, b"\x80\x00" + bytes(6)),
    ]
    result = write_and_read(tmp_path, pcap_file([(1.0, ether(p, 0x86DD)) for p in packets]))
    flows = {(f.protocol, f.a_port, f.b_port): f for f in result.flows}
    assert set(flows) == {(17, 7000, 7001), (6, 7002, 443), (58, 0, 0)}
    assert flows[(17, 7000, 7001)].packets_ab == 3
    assert flows[(17, 7000, 7001)].bytes_ab == (40 + 8 + 16 + 8) + (40 + 8 + 24 + 8) + (40 + 8 + 16)
    assert flows[(6, 7002, 443)].syn_ab


def test_truncated_ipv6_extension_header_is_skipped(tmp_path: Path) -> None:
    packet = ipv6("2001:db8::1", "2001:db8::2", 17, udp(1, 2), ext=((0, ext8(2)),))
    result = write_and_read(tmp_path, pcap_file([(1.0, ether(packet, 0x86DD)[: 14 + 48])]))
    assert result.summary.skipped == {"truncated IPv6 extension header": 1}


def test_transport_header_cut_by_snaplen_gives_an_address_pair_flow(tmp_path: Path) -> None:
    frame = ether(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, 0x02, b"p" * 100)))
    result = write_and_read(tmp_path, pcap_file([(1.0, frame[:36], len(frame))]))
    flow = one_flow(result)
    assert (flow.protocol, flow.a_port, flow.b_port, flow.bytes_ab) == (6, 0, 0, 140)


def test_other_protocols_are_per_address_pair(tmp_path: Path) -> None:
    echo = ipv4("10.0.0.1", "8.8.8.8", 1, b"\x08\x00" + bytes(6) + b"ping")
    reply = ipv4("8.8.8.8", "10.0.0.1", 1, b"\x00\x00" + bytes(6) + b"pong")
    gre = ipv4("10.0.0.1", "8.8.8.8", 47, bytes(4) + V4)
    result = write_and_read(tmp_path, pcap_file([(1.0, ether(p)) for p in (echo, reply, gre)]))
    flows = {f.protocol: f for f in result.flows}
    assert (flows[1].packets_ab, flows[1].packets_ba, flows[1].a_port) == (1, 1, 0)
    assert (flows[47].a, flows[47].b, flows[47].bytes_ab) == ("10.0.0.1", "8.8.8.8", 72)


def test_syn_flags(tmp_path: Path) -> None:
    frames = [
        ether(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 80, 0x02))),  # bare SYN a->b
        ether(ipv4("10.0.0.2", "10.0.0.1", 6, tcp(80, 1, 0x12))),  # SYN/ACK: not bare
        ether(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(2, 80, 0x10))),  # plain ACK
        ether(ipv4("10.0.0.2", "10.0.0.1", 6, tcp(81, 2, 0x02))),  # bare SYN in flow 2, b->a
    ]
    result = write_and_read(tmp_path, pcap_file([(1.0, f) for f in frames]))
    flags = {(f.a_port, f.b_port): (f.syn_ab, f.syn_ba) for f in result.flows}
    assert flags == {(1, 80): (True, False), (2, 80): (False, False), (81, 2): (True, False)}
