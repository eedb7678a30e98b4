"""Address classes: every special-purpose range, and the public addresses around them."""

from __future__ import annotations

import pytest

from auditor.geo import classify_address
from auditor.geo.addresses import lookup_address, parse_address


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
