"""The general (slow, reference) path: one packet record from link layer to a flow key."""

from __future__ import annotations

from typing import Final

from auditor.capture.flowtable import FlowTable
from auditor.tunnels import ETHERNET, Inner

ETH_IPV4: Final = 0x0800
ETH_IPV6: Final = 0x86DD
VLAN_TPIDS: Final = frozenset({0x8100, 0x88A8, 0x9100})
MAX_TAGS: Final = 8  # stacked VLAN/MPLS headers followed before giving up on a frame
PORT_PROTOCOLS: Final = frozenset({6, 17})
# Extension headers whose length is (hdr_ext_len + 1) * 8: hop-by-hop, routing, destination
# options, mobility, HIP, shim6, experimental.
IPV6_EXT_8: Final = frozenset({0, 43, 60, 135, 139, 140, 253, 254})
AF_INET6_VALUES: Final = frozenset({10, 24, 28, 30})  # Linux, BSDs, FreeBSD, macOS
PPP_TO_ETHERTYPE: Final = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6, 0x0281: 0x8847, 0x0283: 0x8848}
MAX_IPV6_HEADERS: Final = 64
RAW_LINK_TYPES: Final = frozenset({101, 12, 14})

def decode_packet(  # noqa: PLR0917 - per-packet call, positional on purpose
    ft: FlowTable, link_type: int, data: bytes, ts: float, frame: int, wire_len: int
) -> None:
    """Count one captured packet into ``ft``, or count why it was skipped.

    ``wire_len`` is the frame's length on the wire, of which ``data`` may be only the start.
    """
    ft.seen(ts)
    found = link_payload(link_type, data, 0)
    if isinstance(found, str):
        ft.skip(found)
        return
    ethertype, off = found
    if ethertype == ETH_IPV4:
        decode_ipv4(ft, data, off, ts, frame, wire_len)
    elif ethertype == ETH_IPV6:
        decode_ipv6(ft, data, off, ts, frame, wire_len)
    else:
        ft.skip(f"non-IP ethertype 0x{ethertype:04x}")


def link_payload(link_type: int, d: bytes, off: int) -> tuple[int, int] | str:
    """(ethertype, offset of the network header) or the reason the frame carries no IP."""
    n = len(d)
    if link_type == 1:
        if n - off < 14:
            return "truncated Ethernet header"
        return ethertype_payload(int.from_bytes(d[off + 12 : off + 14], "big"), d, off + 14)
    if link_type in RAW_LINK_TYPES:
        return _by_version(d, off)
    if link_type == 228:
        return (ETH_IPV4, off)
    if link_type == 229:
        return (ETH_IPV6, off)
    if link_type in (0, 108):
        return _null_family(link_type, d, off)
    if link_type == 113:
        if n - off < 16:
            return "truncated Linux SLL header"
        return ethertype_payload(int.from_bytes(d[off + 14 : off + 16], "big"), d, off + 16)
    if link_type == 276:
        if n - off < 20:
            return "truncated Linux SLL2 header"
        return ethertype_payload(int.from_bytes(d[off : off + 2], "big"), d, off + 20)
    if link_type in (9, 50):
        return _ppp(d, off)
    if link_type == 104:
        if n - off < 4:
            return "truncated Cisco HDLC header"
        return ethertype_payload(int.from_bytes(d[off + 2 : off + 4], "big"), d, off + 4)
    if link_type == 226:
        return _ipnet(d, off)
    if link_type == 239:
        return _nflog(d, off)
    if link_type == 258:
        return _pktap(d, off)
    if link_type == 192:
        return _ppi(d, off)
    return f"link type {link_type} (not supported)"


def ethertype_payload(ethertype: int, d: bytes, off: int) -> tuple[int, int] | str:
    """Follow VLAN tags, LLC/SNAP, PPPoE, MPLS and VN-Tag to the network header."""
    n = len(d)
    for _ in range(MAX_TAGS):
        if ethertype in VLAN_TPIDS:
            if n - off < 4:
                return "truncated VLAN tag"
            ethertype = int.from_bytes(d[off + 2 : off + 4], "big")
            off += 4
        elif ethertype <= 1500:  # an 802.3 length: LLC follows
            if n - off >= 8 and d[off : off + 3] == b"\xaa\xaa\x03":
                ethertype = int.from_bytes(d[off + 6 : off + 8], "big")
                off += 8
            else:
                return "802.3 frame without IP"
        elif ethertype == 0x8864:  # PPPoE session: 6-byte header, then the PPP protocol
            if n - off < 8:
                return "truncated PPPoE header"
            ppp = int.from_bytes(d[off + 6 : off + 8], "big")
            if ppp not in PPP_TO_ETHERTYPE:
                return f"non-IP PPP protocol 0x{ppp:04x}"
            return (PPP_TO_ETHERTYPE[ppp], off + 8)
        elif ethertype in (0x8847, 0x8848):
            return _mpls(d, off)
        elif ethertype == 0x8926:  # VN-Tag: 4 bytes of tag, then the real ethertype
            if n - off < 6:
                return "truncated VN-Tag"
            ethertype = int.from_bytes(d[off + 4 : off + 6], "big")
            off += 6
        else:
            return (ethertype, off)
    return "too many stacked tags"


def _mpls(d: bytes, off: int) -> tuple[int, int] | str:
    n = len(d)
    for _ in range(MAX_TAGS):
        if n - off < 4:
            return "truncated MPLS label"
        bottom = d[off + 2] & 1
        off += 4
        if bottom:
            # As Wireshark does: no signalling of the payload, so guess by the IP version.
            return _by_version(d, off, "MPLS payload")
    return "too many stacked tags"


def _by_version(d: bytes, off: int, what: str = "raw IP") -> tuple[int, int] | str:
    if off >= len(d):
        return f"truncated {what}"
    version = d[off] >> 4
    if version == 4:
        return (ETH_IPV4, off)
    if version == 6:
        return (ETH_IPV6, off)
    return f"{what} with IP version {version}"


def _null_family(link_type: int, d: bytes, off: int) -> tuple[int, int] | str:
    if len(d) - off < 4:
        return "truncated loopback header"
    raw = d[off : off + 4]
    # NULL stores the family in the capturing host's byte order, LOOP in network order; try
    # both for NULL since the file's byte order need not be the host's.
    orders = ("big",) if link_type == 108 else ("little", "big")
    for order in orders:
        family = int.from_bytes(raw, order)  # type: ignore[arg-type]
        if family == 2:
            return (ETH_IPV4, off + 4)
        if family in AF_INET6_VALUES:
            return (ETH_IPV6, off + 4)
    return f"loopback family {int.from_bytes(raw, orders[0])}"  # type: ignore[arg-type]


def _ppp(d: bytes, off: int) -> tuple[int, int] | str:
    n = len(d)
    if n - off >= 2 and d[off] == 0xFF and d[off + 1] == 0x03:
        off += 2
    if n - off < 1:
        return "truncated PPP header"
    if d[off] & 1:  # protocol field compressed to one byte
        proto, off = d[off], off + 1
    else:
        if n - off < 2:
            return "truncated PPP header"
        proto, off = int.from_bytes(d[off : off + 2], "big"), off + 2
    if proto not in PPP_TO_ETHERTYPE:
        return f"non-IP PPP protocol 0x{proto:04x}"
    return (PPP_TO_ETHERTYPE[proto], off)


def _ipnet(d: bytes, off: int) -> tuple[int, int] | str:
    if len(d) - off < 24:
        return "truncated IPNET header"
    family = d[off + 1]
    if family == 2:
        return (ETH_IPV4, off + 24)
    if family == 26:
        return (ETH_IPV6, off + 24)
    return f"IPNET family {family}"


def _nflog(d: bytes, off: int) -> tuple[int, int] | str:
    n = len(d)
    if n - off < 4:
        return "truncated NFLOG header"
    family = d[off]
    p = off + 4
    while n - p >= 4:
        tlv_len = int.from_bytes(d[p : p + 2], "little")
        tlv_type = int.from_bytes(d[p + 2 : p + 4], "little") & 0x7FFF
        if tlv_len < 4:
            return "corrupt NFLOG TLV"
        if tlv_type == 9:  # NFULA_PAYLOAD
            if family == 2:
                return (ETH_IPV4, p + 4)
            if family == 10:
                return (ETH_IPV6, p + 4)
            return f"NFLOG family {family}"
        p += (tlv_len + 3) & ~3
    return "NFLOG record without payload"


def _pktap(d: bytes, off: int) -> tuple[int, int] | str:
    if len(d) - off < 8:
        return "truncated PKTAP header"
    header_len = int.from_bytes(d[off : off + 4], "little")
    inner = int.from_bytes(d[off + 4 : off + 8], "little")
    if header_len < 8 or off + header_len > len(d) or inner in (258, 149):
        return "corrupt PKTAP header"
    return link_payload(inner, d, off + header_len)


def _ppi(d: bytes, off: int) -> tuple[int, int] | str:
    """Per-Packet Information: a length-prefixed header naming the link type that follows."""
    if len(d) - off < 8:
        return "truncated PPI header"
    header_len = int.from_bytes(d[off + 2 : off + 4], "little")
    inner = int.from_bytes(d[off + 4 : off + 8], "little")
    if header_len < 8 or off + header_len > len(d) or inner == 192:
        return "corrupt PPI header"
    return link_payload(inner, d, off + header_len)


def decode_ipv4(  # noqa: PLR0917 - per-packet call, positional on purpose
    ft: FlowTable, d: bytes, off: int, ts: float, frame: int, wire_len: int
) -> None:
    n = len(d)
    if n - off < 20:
        ft.skip("truncated IPv4 header")
        return
    version = d[off] >> 4
    if version == 6:  # Wireshark dissects a v6 header under the v4 ethertype as IPv6
        decode_ipv6(ft, d, off, ts, frame, wire_len)
        return
    if version != 4:
        ft.skip(f"bad IPv4 version {version}")
        return
    ihl = (d[off] & 15) * 4
    if ihl < 20:
        ft.skip("bad IPv4 header length")
        return
    if off + ihl > n:
        ft.skip("truncated IPv4 header")
        return
    total = int.from_bytes(d[off + 2 : off + 4], "big")
    if total == 0:
        total = n - off  # TSO: the NIC fills the length in later; Wireshark takes the frame's
    elif total < ihl:
        ft.skip("bad IPv4 total length")
        return
    end = min(n, off + total)
    proto = d[off + 9]
    addrs = d[off + 12 : off + 20]
    frag = int.from_bytes(d[off + 6 : off + 8], "big")
    l4 = off + ihl
    syn = 0
    if frag & 0x1FFF:
        # A later fragment: no transport header; it belongs where its first fragment went.
        frag_key = addrs + d[off + 4 : off + 6] + bytes((proto,))
        found = ft.frags4.get(frag_key)
        if found is None:
            if ft.defer_orphan(4, frag_key, proto, addrs, total, ts, frame):
                return
            found = addrs
        key = found
    elif proto in PORT_PROTOCOLS and l4 + 4 <= end:
        key = addrs + d[l4 : l4 + 4]
        if proto == 6 and l4 + 14 <= end and d[l4 + 13] & 0x12 == 0x02:
            syn = 1
    else:
        key = addrs
    if frag & 0x2000 and not frag & 0x1FFF:
        ft.remember_fragment4(addrs + d[off + 4 : off + 6] + bytes((proto,)), key)
    index = ft.add(proto, key, total, ts, frame, syn)
    if index >= 0 and not frag & 0x3FFF:  # a fragment's payload is not whole: not looked at
        ft.look(proto, key, d, l4, end, index, frame)


def decode_ipv6(  # noqa: PLR0917 - per-packet call, positional on purpose
    ft: FlowTable, d: bytes, off: int, ts: float, frame: int, wire_len: int
) -> None:
    n = len(d)
    if n - off < 40:
        ft.skip("truncated IPv6 header")
        return
    version = d[off] >> 4
    if version != 6:
        ft.skip(f"bad IPv6 version {version}")
        return
    plen = int.from_bytes(d[off + 4 : off + 6], "big")
    nh = d[off + 6]
    addrs = d[off + 8 : off + 40]
    nbytes = 40 + plen
    end = min(n, off + nbytes) if plen else n
    p = off + 40
    fragmented = False
    for _ in range(MAX_IPV6_HEADERS):
        if nh in IPV6_EXT_8:
            if end - p < 2 or end - p < (d[p + 1] + 1) * 8:
                ft.skip("truncated IPv6 extension header")
                return
            if nh == 0 and plen == 0:
                jumbo = _jumbo_length(d, p, p + (d[p + 1] + 1) * 8)
                # RFC 2675: only for payloads too big for the 16-bit field, and never more
                # than the frame itself carried on the wire.
                if jumbo is None or jumbo <= 0xFFFF or off + 40 + jumbo > wire_len:
                    ft.skip("bad IPv6 jumbo payload")
                    return
                nbytes = 40 + jumbo
            nh, p = d[p], p + (d[p + 1] + 1) * 8
        elif nh == 51:  # AH counts its length in 4-byte units, minus 2
            if end - p < 2 or end - p < (d[p + 1] + 2) * 4:
                ft.skip("truncated IPv6 extension header")
                return
            nh, p = d[p], p + (d[p + 1] + 2) * 4
        elif nh == 44:
            if plen == 0:  # a jumbogram cannot be fragmented: Wireshark rejects it too
                ft.skip("bad IPv6 fragment (payload length 0)")
                return
            if end - p < 8:
                ft.skip("truncated IPv6 extension header")
                return
            frag = int.from_bytes(d[p + 2 : p + 4], "big")
            frag_key = addrs + d[p + 4 : p + 8]
            fragmented = True
            nh, p = d[p], p + 8
            if frag & 0xFFF8:
                known = ft.frags6.get(frag_key)
                if known is None:
                    if ft.defer_orphan(6, frag_key, nh, addrs, nbytes, ts, frame):
                        return
                    known = (nh, addrs)
                ft.add(known[0], known[1], nbytes, ts, frame, 0)
                return
            if frag & 1:
                key = _transport_key(nh, addrs, d, p, end)
                ft.remember_fragment6(frag_key, nh, key)
        else:
            break
    else:
        ft.skip("too many IPv6 extension headers")
        return
    syn = 1 if nh == 6 and p + 14 <= end and d[p + 13] & 0x12 == 0x02 else 0
    key = _transport_key(nh, addrs, d, p, end)
    index = ft.add(nh, key, nbytes, ts, frame, syn)
    if index >= 0 and not fragmented:
        ft.look(nh, key, d, p, end, index, frame)


def _transport_key(proto: int, addrs: bytes, d: bytes, p: int, end: int) -> bytes:
    if proto in PORT_PROTOCOLS and p + 4 <= end:
        return addrs + d[p : p + 4]
    return addrs


def _jumbo_length(d: bytes, p: int, end: int) -> int | None:
    """The Jumbo Payload option's length in a hop-by-hop header, if it has one."""
    q = p + 2
    while q < end:
        kind = d[q]
        if kind == 0:  # Pad1 has no length byte
            q += 1
            continue
        if q + 2 > end:
            return None
        length = d[q + 1]
        if kind == 0xC2 and length == 4 and q + 6 <= end:
            return int.from_bytes(d[q + 2 : q + 6], "big")
        q += 2 + length
    return None


def decode_inner(ft: FlowTable, inner: Inner, d: bytes, ts: float, frame: int) -> None:
    """Count the packet a tunnel carries (see capture/wiretaps.py) like any captured one."""
    ethertype, off = inner.ethertype, inner.offset
    if ethertype == ETHERNET:
        found = link_payload(1, d, off)
        if isinstance(found, str):
            ft.skip(f"{inner.tunnel}: {found}")
            return
        ethertype, off = found
    if ethertype == ETH_IPV4:
        decode_ipv4(ft, d, off, ts, frame, len(d))
    elif ethertype == ETH_IPV6:
        decode_ipv6(ft, d, off, ts, frame, len(d))
    else:
        ft.skip(f"{inner.tunnel}: non-IP ethertype 0x{ethertype:04x}")
