"""The one definition of address classes (private, loopback, CGNAT...): the IANA registries.

Used wherever "is this a local address?" is asked: choosing a flow's server side, and deciding
what is never looked up in a database.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from enum import StrEnum
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressClass(StrEnum):
    """A special-purpose block: an address in one is not a server anywhere in the world."""

    UNSPECIFIED = "unspecified"
    RESERVED = "reserved"
    PRIVATE = "private"
    CGNAT = "cgnat"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    DOCUMENTATION = "documentation"
    MULTICAST = "multicast"
    BROADCAST = "broadcast"


# Checked in order, first match wins: specific blocks come before the broad ones that contain
# them; "" marks a globally reachable block inside a special one. The stdlib's
# is_private/is_reserved have shifted between Python patch releases (and count neither CGNAT nor
# multicast as private), so the IANA special-purpose registries are spelled out here instead.
_V4_CLASSES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/32", "unspecified"),
    ("0.0.0.0/8", "reserved"),  # "this network"
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "cgnat"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    # 192.0.0.9 (PCP anycast) and 192.0.0.10 (TURN anycast) are globally reachable: looked up.
    ("192.0.0.9/32", ""),
    ("192.0.0.10/32", ""),
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),  # benchmarking
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)

_V6_CLASSES: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215), inside ::/8
    ("::/8", "reserved"),  # IPv4-compatible and the rest of the IETF-reserved ::/8
    ("100::/64", "reserved"),  # discard-only
    ("2001:1::1/128", ""),  # PCP anycast: globally reachable
    ("2001:1::2/128", ""),  # TURN anycast: globally reachable
    ("2001:3::/32", ""),  # AMT
    ("2001:4:112::/48", ""),  # AS112-v6
    ("2001:20::/28", ""),  # ORCHIDv2
    ("2001:30::/28", ""),  # drone remote ID
    ("2001::/32", ""),  # Teredo: the server side is a real public host
    ("2001:2::/48", "reserved"),  # benchmarking
    ("2001::/23", "reserved"),  # IETF protocol assignments
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),  # RFC 9637
    ("5f00::/16", "reserved"),  # SRv6 SIDs
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "reserved"),  # deprecated site-local
    ("ff00::/8", "multicast"),
    ("2000::/3", ""),  # global unicast
    ("::/0", "reserved"),  # everything outside 2000::/3 is unallocated
)


def _segments(
    table: tuple[tuple[str, str], ...],
    network: type[ipaddress.IPv4Network | ipaddress.IPv6Network],
    bits: int,
) -> tuple[list[int], list[AddressClass | None]]:
    """The table as (starts, classes) of the disjoint segments its blocks cut the address
    space into, each with the class the first block holding it gives (None: public). Every
    block edge is a segment edge, so a segment lies wholly inside or outside each block, and
    one bisection finds an address's class (a scan of the blocks in order cost more than
    locating many servers' addresses)."""
    blocks = [
        (int(n.network_address), int(n.broadcast_address), AddressClass(c) if c else None)
        for n, c in ((network(net), name) for net, name in table)
    ]
    edges = sorted({0} | {first for first, _, _ in blocks} | {last + 1 for _, last, _ in blocks})
    starts = [edge for edge in edges if edge < 1 << bits]
    classes = [
        next((cls for first, last, cls in blocks if first <= start <= last), None)
        for start in starts
    ]
    return starts, classes


_V4_STARTS, _V4_SEGMENT_CLASSES = _segments(_V4_CLASSES, ipaddress.IPv4Network, 32)
_V6_STARTS, _V6_SEGMENT_CLASSES = _segments(_V6_CLASSES, ipaddress.IPv6Network, 128)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_address(ip: str) -> IPAddress:
    """The address as an object; ValueError for text that is not an IP address."""
    return ipaddress.ip_address(ip.strip())


def lookup_address(address: IPAddress) -> IPAddress:
    """The address a database should be asked about: the IPv4 inside a mapped or NAT64 one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


# The /96 prefixes (address >> 32) of IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96).
_MAPPED_HIGH = 0xFFFF
_NAT64_HIGH = int(_NAT64.network_address) >> 32


def literal_value(ip: str) -> tuple[int, int]:
    """(4 or 6, the address as an integer), as written: no mapped or NAT64 IPv4 taken out.
    ValueError for text that is not an IP address.

    The C parser (inet_pton) takes the canonical text packets give, several times faster than
    ipaddress; whatever it refuses (spaces, a zone id) is parsed by ipaddress, which decides.
    """
    try:
        if ":" not in ip:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big")
    except (OSError, ValueError):
        address = parse_address(ip)
        return address.version, int(address)


def address_value(ip: str) -> tuple[int, int]:
    """(4 or 6, the address as an integer) of the address a database should be asked about:
    the IPv4 inside a mapped or NAT64 one. ValueError for text that is not an IP address.
    """
    version, value = literal_value(ip)
    if version == 6 and value >> 32 in (_MAPPED_HIGH, _NAT64_HIGH):
        return 4, value & 0xFFFFFFFF
    return version, value


def class_of(version: int, value: int) -> AddressClass | None:
    """None for a public address, else its class; ``value`` as address_value gives it."""
    if version == 4:
        return _V4_SEGMENT_CLASSES[bisect_right(_V4_STARTS, value) - 1]
    return _V6_SEGMENT_CLASSES[bisect_right(_V6_STARTS, value) - 1]


def class_segments(version: int) -> tuple[list[int], list[AddressClass | None]]:
    """(starts, classes) of the segments class_of bisects for IP ``version`` (4 or 6): an
    address's class is that of the last segment starting at or before it (None: public)."""
    if version == 4:
        return list(_V4_STARTS), list(_V4_SEGMENT_CLASSES)
    return list(_V6_STARTS), list(_V6_SEGMENT_CLASSES)


@lru_cache(maxsize=65536)
def classify_address(ip: str) -> AddressClass | None:
    """None for a public address, else its class (private, cgnat, documentation...).

    Raises ValueError when ``ip`` is not an IP address: that is a caller's bug, not data.
    """
    return class_of(*address_value(ip))


# A packet to a group address reaches every member: the group is nobody's host, so it never
# makes the other side of a flow the server (an mDNS sender on a public LAN is no server).
_GROUPS = frozenset({AddressClass.MULTICAST, AddressClass.BROADCAST})


def is_local_host(ip: str) -> bool:
    """True for a local unicast address (private, CGNAT, link-local, documentation, reserved...).

    False for a public address, for a multicast or broadcast group, and for text that is no
    address. Groups are still local for the locator: classify_address says so.
    """
    try:
        address_class = classify_address(ip)
    except ValueError:
        return False
    return address_class is not None and address_class not in _GROUPS
