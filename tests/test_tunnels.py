"""Tunnel headers made with scapy: each reader finds the inner packet scapy put there."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet

from auditor.tunnels import (
    ETH_IPV4,
    ETH_IPV6,
    ETHERNET,
    Tunnel,
    ip_inner,
    udp_inner,
    udp_tunnel_of,
)

INNER4 = IP(src="10.1.2.3", dst="198.51.100.7") / UDP(sport=50000, dport=8801) / b"media"
INNER6 = IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2) / b"x"


def _found(header: Packet, inner: Packet) -> bytes:
    return bytes(header / inner)


@pytest.mark.parametrize(
    ("tunnel", "header", "inner", "ethertype"),
    [
        (Tunnel.GTP_U, GTP_U_Header(teid=7, gtp_type=255), INNER4, ETH_IPV4),
        (Tunnel.GTP_U, GTP_U_Header(teid=7, gtp_type=255, S=1, seq=9), INNER6, ETH_IPV6),
        (Tunnel.GTP_U,
         GTP_U_Header(teid=7, gtp_type=255, E=1, next_ex=0x85) / GTPPDUSessionContainer(QFI=5),
         INNER4, ETH_IPV4),
        (Tunnel.VXLAN, VXLAN(vni=42), Ether() / INNER4, ETHERNET),
        (Tunnel.GENEVE, GENEVE(vni=1, proto=0x6558), Ether() / INNER4, ETHERNET),
        (Tunnel.GENEVE, GENEVE(vni=1, proto=0x0800), INNER4, ETH_IPV4),
    ],
)  # fmt: skip
def test_udp_tunnels(tunnel: Tunnel, header: Packet, inner: Packet, ethertype: int) -> None:
    payload = bytes(header / inner)
    found = udp_inner(tunnel, payload, 0, len(payload))
    assert found is not None
    assert (found.ethertype, found.tunnel) == (ethertype, tunnel)
    assert payload[found.offset :] == bytes(inner)


@pytest.mark.parametrize(
    ("proto", "header", "inner", "expected"),
    [
        (4, b"", INNER4, (ETH_IPV4, Tunnel.IPIP)),
        (41, b"", INNER6, (ETH_IPV6, Tunnel.SIX_IN_FOUR)),
        (47, bytes(GRE(proto=0x0800)), INNER4, (ETH_IPV4, Tunnel.GRE)),
        (47, bytes(GRE(proto=0x86DD, key_present=1, key=5, chksum_present=1)), INNER6,
         (ETH_IPV6, Tunnel.GRE)),
        (47, bytes(GRE(proto=0x6558, seqnum_present=1, sequence_number=3)), Ether() / INNER4,
         (ETHERNET, Tunnel.GRE)),
        (47, bytes(GRE(proto=0x88BE, seqnum_present=1) / ERSPAN_II()), Ether() / INNER4,
         (ETHERNET, Tunnel.ERSPAN)),
        (47, bytes(GRE(proto=0x88BE)), Ether() / INNER4, (ETHERNET, Tunnel.ERSPAN)),  # type I
        (47, bytes(GRE(proto=0x22EB, seqnum_present=1) / ERSPAN_III()), Ether() / INNER4,
         (ETHERNET, Tunnel.ERSPAN)),
    ],
)  # fmt: skip
def test_ip_tunnels(
    proto: int, header: bytes, inner: Packet, expected: tuple[int, Tunnel]
) -> None:
    payload = header + bytes(inner)
    found = ip_inner(proto, payload, 0, len(payload))
    assert found is not None
    assert (found.ethertype, found.tunnel) == expected
    assert payload[found.offset :] == bytes(inner)


@pytest.mark.parametrize(
    ("tunnel", "payload"),
    [
        (Tunnel.GTP_U, bytes(GTP_U_Header(teid=1, gtp_type=1) / INNER4)),  # echo, not a G-PDU
        (Tunnel.GTP_U, bytes(GTP_U_Header(teid=1, gtp_type=255, version=2) / INNER4)),
        (Tunnel.GTP_U, bytes(GTP_U_Header(teid=1, gtp_type=255) / b"\x00junk")),  # no IP inside
        (Tunnel.GTP_U, b"\x34\xff\x00\x08\x00\x00\x00\x01\x00\x00\x00\x85\x00"),  # ext length 0
        (Tunnel.VXLAN, bytes(VXLAN(flags=0)) + bytes(Ether() / INNER4)),  # I flag clear
        (Tunnel.GENEVE, b"\x3f" + bytes(7)),  # options past the end
    ],
)
def test_udp_tunnel_garbage_is_none(tunnel: Tunnel, payload: bytes) -> None:
    assert udp_inner(tunnel, payload, 0, len(payload)) is None


def test_gre_version_1_and_routing_are_not_followed() -> None:
    pptp = b"\x30\x01\x88\x0b" + bytes(8)
    routed = b"\x40\x00\x08\x00" + bytes(INNER4)
    assert ip_inner(47, pptp, 0, len(pptp)) is None
    assert ip_inner(47, routed, 0, len(routed)) is None


def _udp_key(sport: int, dport: int) -> bytes:
    """A UDP flow key as the capture makes it: the two IPv4 addresses, then the ports."""
    return bytes([10, 0, 0, 1, 192, 0, 2, 1]) + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")


def test_ports() -> None:
    assert udp_tunnel_of(_udp_key(2152, 2152)) is Tunnel.GTP_U
    assert udp_tunnel_of(_udp_key(50000, 4789)) is Tunnel.VXLAN
    assert udp_tunnel_of(_udp_key(6081, 50000)) is Tunnel.GENEVE
    assert udp_tunnel_of(_udp_key(443, 50000)) is None


@given(st.sampled_from(list(Tunnel)), st.binary(max_size=64), st.integers(0, 8))
def test_never_raises(tunnel: Tunnel, data: bytes, start: int) -> None:
    if tunnel in (Tunnel.GTP_U, Tunnel.VXLAN, Tunnel.GENEVE):
        found = udp_inner(tunnel, data, start, len(data))
    else:
        found = ip_inner({Tunnel.IPIP: 4, Tunnel.SIX_IN_FOUR: 41}.get(tunnel, 47), data, start,
                         len(data))  # fmt: skip
    assert found is None or start <= found.offset <= len(data)
