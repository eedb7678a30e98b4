"""Tunnels whose inner packets are a meeting's real traffic: where the inner header starts.

A mobile core (GTP-U), a data-centre overlay (VXLAN, Geneve), a mirror port (GRE, ERSPAN) or a
plain IP-in-IP/6in4 tunnel carries whole flows inside one outer conversation. The capture
counts the outer packet as the tunnel endpoints' flow (shown as transport) and decodes the
inner one like any other packet, to a bounded depth. Each function here reads one tunnel
header and says where the inner packet starts and what it is; nothing here raises.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple

ETH_IPV4: Final = 0x0800
ETH_IPV6: Final = 0x86DD
ETHERNET: Final = 0x6558  # Transparent Ethernet Bridging: an Ethernet frame follows
MAX_DEPTH: Final = 4  # tunnels inside tunnels followed; deeper is counted as skipped
MAX_GTP_EXTENSIONS: Final = 8


class Tunnel(StrEnum):
    GTP_U = "GTP-U"
    VXLAN = "VXLAN"
    GENEVE = "Geneve"
    GRE = "GRE"
    ERSPAN = "ERSPAN"
    IPIP = "IP-in-IP"
    SIX_IN_FOUR = "6in4"


UDP_TUNNEL_PORTS: Final = {2152: Tunnel.GTP_U, 4789: Tunnel.VXLAN, 6081: Tunnel.GENEVE}
IP_TUNNEL_PROTOCOLS: Final = {4: Tunnel.IPIP, 41: Tunnel.SIX_IN_FOUR, 47: Tunnel.GRE}


class Inner(NamedTuple):
    """What a tunnel carries: an ethertype (ETHERNET for a whole frame) and where it starts."""

    ethertype: int
    offset: int
    tunnel: Tunnel


# The same, keyed by a port as the packet carries it (2 bytes, network order): the capture
# asks about every packet of a young UDP direction, and a slice of its key costs less than
# decoding two ports.
UDP_TUNNEL_WIRE_PORTS: Final = {
    port.to_bytes(2, "big"): tunnel for port, tunnel in UDP_TUNNEL_PORTS.items()
}


def udp_tunnel_of(key: bytes) -> Tunnel | None:
    """The tunnel the ports a UDP flow key ends in (source, destination) say it is: either
    side's, the destination's first (GTP-U uses 2152 on both)."""
    return UDP_TUNNEL_WIRE_PORTS.get(key[-2:]) or UDP_TUNNEL_WIRE_PORTS.get(key[-4:-2])


def udp_inner(tunnel: Tunnel, d: bytes, p: int, end: int) -> Inner | None:
    """The inner packet of a UDP tunnel whose payload is ``d[p:end]``."""
    if tunnel is Tunnel.GTP_U:
        return _gtp_u(d, p, end)
    if tunnel is Tunnel.VXLAN:
        # flags (the I bit must be set), 3 reserved, VNI, 1 reserved; an Ethernet frame follows
        if end - p >= 8 + 14 and d[p] & 0x08:
            return Inner(ETHERNET, p + 8, tunnel)
        return None
    return _geneve(d, p, end)


def ip_inner(proto: int, d: bytes, p: int, end: int) -> Inner | None:
    """The inner packet of an IP-level tunnel (IP-in-IP, 6in4, GRE) starting at ``d[p]``."""
    if proto == 4:
        return Inner(ETH_IPV4, p, Tunnel.IPIP) if _version_at(d, p, end) == 4 else None
    if proto == 41:
        return Inner(ETH_IPV6, p, Tunnel.SIX_IN_FOUR) if _version_at(d, p, end) == 6 else None
    if proto == 47:
        return _gre(d, p, end)
    return None


def _version_at(d: bytes, p: int, end: int) -> int:
    return d[p] >> 4 if p < end else 0


def _by_version(d: bytes, p: int, end: int, tunnel: Tunnel) -> Inner | None:
    version = _version_at(d, p, end)
    if version == 4:
        return Inner(ETH_IPV4, p, tunnel)
    if version == 6:
        return Inner(ETH_IPV6, p, tunnel)
    return None


def _gtp_u(d: bytes, p: int, end: int) -> Inner | None:
    """GTP-U (3GPP TS 29.281): version 1, protocol type GTP, a G-PDU carrying an IP packet."""
    if end - p < 8:
        return None
    flags, message = d[p], d[p + 1]
    if flags >> 5 != 1 or not flags & 0x10 or message != 0xFF:
        return None
    q = p + 8
    if flags & 0x07:  # sequence number, N-PDU number, next extension header type
        if end - q < 4:
            return None
        following = d[q + 3]
        q += 4
        for _ in range(MAX_GTP_EXTENSIONS):
            if not following:
                break
            if q >= end or not d[q]:
                return None
            size = d[q] * 4  # in units of 4 bytes, the length byte and next type included
            if q + size > end:
                return None
            following = d[q + size - 1]
            q += size
        else:
            return None
    return _by_version(d, q, end, Tunnel.GTP_U)


def _geneve(d: bytes, p: int, end: int) -> Inner | None:
    """Geneve (RFC 8926): version 0, options in 4-byte units, a protocol type."""
    if end - p < 8 or d[p] >> 6:
        return None
    q = p + 8 + (d[p] & 0x3F) * 4
    ethertype = int.from_bytes(d[p + 2 : p + 4], "big")
    if q > end or ethertype not in (ETHERNET, ETH_IPV4, ETH_IPV6):
        return None
    return Inner(ethertype, q, Tunnel.GENEVE)


ERSPAN_II: Final = 0x88BE
ERSPAN_III: Final = 0x22EB


def _gre(d: bytes, p: int, end: int) -> Inner | None:
    """GRE version 0 (RFC 2784/2890) with its optional checksum, key and sequence number;
    ERSPAN type I/II/III behind it where the header is the simple, fixed one."""
    if end - p < 4:
        return None
    flags = int.from_bytes(d[p : p + 2], "big")
    if flags & 0x0007 or flags & 0x4000:  # version 1 (PPTP) or source routing: not followed
        return None
    q = p + 4 + 4 * bool(flags & 0x8000) + 4 * bool(flags & 0x2000) + 4 * bool(flags & 0x1000)
    ethertype = int.from_bytes(d[p + 2 : p + 4], "big")
    if q > end:
        return None
    if ethertype in (ETH_IPV4, ETH_IPV6, ETHERNET):
        return Inner(ethertype, q, Tunnel.GRE)
    if ethertype == ERSPAN_II:
        # type I has no sequence number and no ERSPAN header; type II an 8-byte one
        start = q + (8 if flags & 0x1000 else 0)
        return Inner(ETHERNET, start, Tunnel.ERSPAN) if start <= end else None
    if ethertype == ERSPAN_III and q + 12 <= end:
        start = q + 12 + 8 * (d[q + 11] & 0x01)  # the O flag: an 8-byte sub-header follows
        return Inner(ETHERNET, start, Tunnel.ERSPAN) if start <= end else None
    return None
