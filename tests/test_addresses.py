"""Address classes: every special-purpose range, and the public addresses around them."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.addresses import (
    _V4_CLASSES,
    _V6_CLASSES,
    class_of,
    classify_address,
    is_local_host,
    lookup_address,
    parse_address,
)
from auditor.endpoints import choose_server
from auditor.model import Flow


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("fc00::1", "private"),
        ("64:ff9b:1::1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("100.64.0.1", "cgnat"),
        ("100.127.255.255", "cgnat"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::fb", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::", "unspecified"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.200", "documentation"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("0.1.2.3", "reserved"),
        ("192.0.0.8", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.88.99.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.254", "reserved"),
        ("100::1", "reserved"),
        ("2001:2::1", "reserved"),
        ("2001:10::1", "reserved"),
        ("fec0::1", "reserved"),
        ("4000::1", "reserved"),
        ("::1.2.3.4", "reserved"),  # deprecated IPv4-compatible
        # IPv4-mapped and NAT64 addresses are classified by the IPv4 inside them.
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:100.64.1.1", "cgnat"),
        ("64:ff9b::c0a8:101", "private"),
    ],
)
def test_local_classes(ip: str, expected: str) -> None:
    assert classify_address(ip) == expected


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8",
        "1.1.1.1",
        "172.15.255.255",
        "172.32.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "192.0.0.9",
        "192.0.0.10",
        "192.0.3.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.255",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2001:4860:4860::8888",
        "2a02:d180::1",
        "2001::1",  # Teredo
        "2001:1::1",
        "2001:3::1",
        "2002:c000:204::1",  # 6to4
    ],
)
def test_public_addresses(ip: str) -> None:
    assert classify_address(ip) is None


@pytest.mark.parametrize("text", ["", "not-an-ip", "1.2.3", "10.0.0.256", "1.2.3.4/24"])
def test_non_addresses_are_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"does not appear|not a valid|Expected"):
        classify_address(text)


def test_lookup_address_unwraps_mapped_and_nat64() -> None:
    assert str(lookup_address(parse_address("::ffff:81.2.69.160"))) == "81.2.69.160"
    assert str(lookup_address(parse_address("64:ff9b::5102:45a0"))) == "81.2.69.160"
    assert str(lookup_address(parse_address("2a02:d180::1"))) == "2a02:d180::1"


# Where Python's ipaddress.is_private and the IANA registries disagree, with the same stdlib
# answer on every Python this project supports. The table's answer is the one the auditor uses
# for what is never looked up, and (groups aside) for choosing a flow's server side.
STABLE_DIFFERENCES = [
    ("100.64.0.1", "cgnat"),  # shared address space: the stdlib calls it neither private nor global
    ("224.0.0.251", "multicast"),  # the stdlib keeps multicast apart from private
    ("239.255.255.250", "multicast"),
    ("ff02::fb", "multicast"),
    ("192.88.99.1", "reserved"),  # the deprecated 6to4 relay anycast block
    ("fec0::1", "reserved"),  # deprecated site-local
    ("4000::1", "reserved"),  # outside 2000::/3: unallocated
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1: judged by the IPv4 inside
    ("2001::1", None),  # Teredo: inside the stdlib's private 2001::/23, yet a real public host
]


@pytest.mark.parametrize(("ip", "expected"), STABLE_DIFFERENCES)
def test_where_the_stdlib_and_the_iana_tables_differ(ip: str, expected: str | None) -> None:
    assert ipaddress.ip_address(ip).is_private == (expected is None)
    assert classify_address(ip) == expected


# Where the stdlib's answer changed between patch releases (3.11.7 calls 192.0.0.9 public and
# 192.0.0.8 public too, later releases call 192.0.0.0/24 private except .9 and .10; 3.11.7 calls
# every ::ffff:0:0/96 address private, 3.13 looks at the IPv4 inside): only the table's answer
# is asserted, because it is the same on every Python.
@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("192.0.0.8", "reserved"),
        ("192.0.0.9", None),
        ("192.0.0.10", None),
        ("2001:1::1", None),
        ("::ffff:8.8.8.8", None),
        ("::ffff:10.0.0.1", "private"),
    ],
)
def test_answers_the_stdlib_has_changed_are_fixed_here(ip: str, expected: str | None) -> None:
    assert classify_address(ip) == expected


def test_non_addresses_are_not_local() -> None:
    assert not is_local_host("not-an-ip")


def _flow(a: str, b: str, port: int = 40000) -> Flow:
    return Flow(17, a, port, b, port + 1 if port == 40000 else port, 1, 1, 100, 100, 0.0, 1.0, 1)


def _public_beside(ip: str) -> str:
    return "2a02:d180::1" if ":" in ip else "81.2.69.142"


@pytest.mark.parametrize(
    "ip", ["100.64.0.1", "192.88.99.1", "fec0::1", "4000::1", "64:ff9b::a00:1", "198.18.0.1"]
)
def test_beside_a_local_host_the_public_side_is_the_server(ip: str) -> None:
    assert is_local_host(ip)
    side = choose_server(_flow(ip, _public_beside(ip)), frozenset())
    assert side is not None
    assert side.server == _public_beside(ip)


def test_teredo_is_a_public_host() -> None:
    assert not is_local_host("2001::1")
    side = choose_server(_flow("2001::1", "2a02:d180::1"), frozenset())
    assert side is not None
    assert side.server == "2001::1"  # no local side: the lower port decides


@pytest.mark.parametrize("group", ["224.0.0.251", "ff02::fb", "239.255.255.250", "255.255.255.255"])
def test_a_group_never_makes_its_sender_a_server(group: str) -> None:
    """mDNS from a host on a public LAN: the group is local, yet the sender is nobody's server."""
    assert classify_address(group) is not None  # local: never looked up
    assert not is_local_host(group)
    side = choose_server(_flow(_public_beside(group), group, port=5353), frozenset())
    assert side is not None
    assert side.server == group


def _first_block_class(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The oracle: the IANA tables read block by block, first match wins, as they are written."""
    table = _V4_CLASSES if address.version == 4 else _V6_CLASSES
    for network, name in table:
        if address in ipaddress.ip_network(network):
            return name or None
    return None


def _edges() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every block's first and last address and the addresses either side of them."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for table, top in ((_V4_CLASSES, 2**32), (_V6_CLASSES, 2**128)):
        for network, _name in table:
            block = ipaddress.ip_network(network)
            for value in (int(block.network_address), int(block.broadcast_address)):
                for near in (value - 1, value, value + 1):
                    if 0 <= near < top:
                        found.append(ipaddress.ip_address(near) if top == 2**32 else
                                     ipaddress.IPv6Address(near))  # fmt: skip
    return found


def test_class_of_gives_the_first_matching_block_at_every_edge() -> None:
    for address in _edges():
        assert class_of(address.version, int(address)) == _first_block_class(address), address


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**128 - 1))
def test_class_of_gives_the_first_matching_block_anywhere(v4: int, v6: int) -> None:
    for address in (ipaddress.IPv4Address(v4), ipaddress.IPv6Address(v6)):
        assert class_of(address.version, int(address)) == _first_block_class(address)
