"""Platform attribution: its order of evidence, the shipped ranges, and the shared services."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.attribution import (
    GOOGLE_STUN,
    AttributionBasis,
    attribute,
    attribute_endpoint,
)
from auditor.platform_ranges import RangeIndex, RangeKind, bundled_ranges, parse_ranges

ROOT = Path(__file__).resolve().parent.parent

SMALL = parse_ranges(
    "# comment\nnetwork,platform,kind\n"
    "10.0.0.0/8,Big,vendor\n10.1.0.0/16,Inner,vendor\n10.1.2.0/24,Cloudy,cloud\n"
    "2001:db8::/32,Six,vendor\n"
)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.200.0.1", "Big"),
        ("10.1.9.9", "Inner"),  # the most specific range answers
        ("10.1.2.3", "Cloudy"),
        ("11.0.0.0", None),
        ("9.255.255.255", None),
        ("2001:db8::1", "Six"),
        ("2001:db9::1", None),
        ("not an address", None),
    ],
)
def test_most_specific_range(address: str, expected: str | None) -> None:
    found = RangeIndex.of(SMALL).lookup(address)
    assert (found.platform if found else None) == expected


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_lookup_matches_a_linear_scan(value: int) -> None:
    address = str(ipaddress.IPv4Address(value))
    holding = [r for r in SMALL if ipaddress.ip_address(address) in r.network]
    expected = max(holding, key=lambda r: r.network.prefixlen) if holding else None
    assert RangeIndex.of(SMALL).lookup(address) == expected


@pytest.mark.parametrize(
    ("address", "platform"),
    [
        ("170.114.10.1", "Zoom"),  # Zoom's own network
        ("3.7.35.10", "Zoom"),  # a Zoom block inside AWS: the vendor's range wins
        ("52.113.194.132", "Microsoft 365"),  # config.teams.microsoft.com in teams.pcap
        ("62.109.200.1", "Webex"),
        ("104.16.0.1", "Cloudflare"),
    ],
)
def test_bundled_vendor_ranges(address: str, platform: str) -> None:
    found = bundled_ranges().lookup(address)
    assert found is not None
    assert found.kind is RangeKind.VENDOR
    assert found.platform == platform


def test_names_come_before_ranges_and_networks() -> None:
    found = attribute_endpoint(["zoom.us"], "52.113.194.132", 8075)
    assert found is not None
    assert (found.platform, found.basis) == ("Zoom", AttributionBasis.NAME)


@pytest.mark.parametrize(
    ("name", "platform"),
    [
        ("zoom.us", "Zoom"), ("us04web.zoom.us", "Zoom"), ("teams.microsoft.com", "Teams"),
        ("x.wbx2.com", "Webex"), ("meet.google.com", "Meet"), ("meet.jit.si", "Jitsi"),
        ("notzoom.us", None), ("zoom.us.evil.example", None),
    ],
)
def test_platform_by_name_suffix(name: str, platform: str | None) -> None:
    found = attribute_endpoint([name], "192.0.2.1", None)  # no range, no network: the name
    assert (found.platform if found else None) == platform


def test_platform_falls_back_to_the_operator_network() -> None:
    by_network = attribute_endpoint([], "192.0.2.1", 30103)
    assert by_network is not None
    assert (by_network.platform, by_network.basis) == ("Zoom", AttributionBasis.ASN)
    by_name = attribute_endpoint(["zoom.us"], "192.0.2.1", 15169)
    assert by_name is not None
    assert by_name.platform == "Zoom"
    assert attribute_endpoint([], "192.0.2.1", 64512) is None


def test_a_name_under_google_public_stun_is_not_meet() -> None:
    """The shared-service check names stun.l.google.com itself; a name under it is no Meet
    server either (the suffix table once said so), only Google's network."""
    found = attribute_endpoint(["edge.stun.l.google.com"], "192.0.2.1", 15169)
    assert found is not None
    assert (found.platform, found.basis) == ("Google", AttributionBasis.ASN)


def test_google_public_stun_is_not_meet() -> None:
    for name in ("stun.l.google.com", "STUN3.l.google.com."):
        found = attribute_endpoint([name], "74.125.140.127", 15169)
        assert found is not None
        assert found.platform == GOOGLE_STUN
    meet = attribute_endpoint(["meet.google.com"], "74.125.140.127", 15169)
    assert meet is not None
    assert meet.platform == "Meet"


@pytest.mark.parametrize(
    ("name", "platform"),
    [
        ("chat.signal.org", "Signal"), ("dl-media.viber.com", "Viber"),
        ("gw.line.naver.jp.line-apps.com", "LINE"), ("talk.kakao.com", "KakaoTalk"),
        ("ap-web-1.agora.io", "Agora"), ("voovmeeting.com", "Tencent Meeting"),
        ("im.dingtalk.com", "DingTalk"), ("internal-api.feishu.cn", "Lark"),
        ("x.chime.aws", "Amazon Chime"), ("global.gotomeeting.com", "GoTo"),
        ("v.ringcentral.com", "RingCentral"), ("a.bluejeans.com", "BlueJeans"),
        ("wss-primary.slack.com", "Slack"),
        ("notsignal.org", None),  # a suffix is a whole label, never part of one
    ],
)
def test_more_services_by_name(name: str, platform: str | None) -> None:
    found = attribute_endpoint([name], "192.0.2.1", None)
    assert (found.platform if found else None) == platform


def test_cloud_tenant_stops_the_asn_naming_the_cloud_owner() -> None:
    # discord.pcap's media server 35.214.238.161 is in Google Cloud's customer ranges, in
    # AS15169: it is Discord's, not Google's service.
    found = attribute_endpoint([], "35.214.238.161", 15169)
    assert found is not None
    assert found.basis is AttributionBasis.CLOUD_TENANT
    assert not found.names_platform
    assert found.label == "Google Cloud tenant"


def test_asn_then_port_hint_last_and_labelled() -> None:
    asn = attribute_endpoint([], "192.0.2.1", 30103, ["8801/udp"])
    assert asn is not None
    assert (asn.platform, asn.basis) == ("Zoom", AttributionBasis.ASN)
    hint = attribute_endpoint([], "192.0.2.1", None, ["443/tcp", "8801/udp"])
    assert hint is not None
    assert hint.basis is AttributionBasis.PORT_HINT
    assert hint.label == "Zoom? (port hint)"
    assert not hint.names_platform
    assert attribute_endpoint([], "192.0.2.1", None, ["3478/udp"]) is None  # any STUN server


def test_no_tables_no_answer() -> None:
    assert attribute([], "192.0.2.1", 30103, ranges=RangeIndex.of(())) is None


def test_shipped_data_is_what_the_pinned_sources_build() -> None:
    script = ROOT / "scripts" / "build_platform_ranges.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], check=False, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()


@given(
    st.lists(
        st.tuples(st.integers(0, 2**16 - 1), st.integers(16, 32), st.sampled_from(["A", "B"])),
        max_size=12,
    ),
    st.lists(st.integers(0, 2**16 - 1), min_size=1, max_size=20),
)
def test_nested_and_equal_ranges_match_a_linear_scan(
    blocks: list[tuple[int, int, str]], probes: list[int]
) -> None:
    # Ranges packed into 10.0.0.0/16 nest, repeat and touch; the most specific one answers,
    # and of two equal ones the later row (as the sweep promises).
    text = "".join(
        f"{ipaddress.ip_network((0x0A000000 + low, length), strict=False)},{name},vendor\n"
        for low, length, name in blocks
    )
    ranges = parse_ranges(text)
    index = RangeIndex.of(ranges)
    for probe in probes:
        address = ipaddress.IPv4Address(0x0A000000 + probe)
        holding = [
            (r.network.prefixlen, row) for row, r in enumerate(ranges) if address in r.network
        ]
        expected = ranges[max(holding)[1]] if holding else None
        assert index.lookup(str(address)) == expected


def test_shipped_index_is_the_csv_swept() -> None:
    data = ROOT / "auditor" / "data"
    text = (data / "platform_ranges.csv").read_text("ascii")
    swept = RangeIndex.of(parse_ranges(text))
    shipped = RangeIndex.from_bytes((data / "platform_ranges.idx").read_bytes(), text)
    assert shipped is not None
    assert bundled_ranges() == shipped
    for table, built in ((shipped.v4, swept.v4), (shipped.v6, swept.v6)):
        assert list(table.starts) == list(built.starts)
        assert list(table.rows) == list(built.rows)
    assert list(shipped.lines) == list(swept.lines)


def test_an_index_of_another_csv_is_not_used() -> None:
    data = ROOT / "auditor" / "data"
    text = (data / "platform_ranges.csv").read_text("ascii")
    index = (data / "platform_ranges.idx").read_bytes()
    edited = text.replace(",Zoom,vendor\n", ",Zoom,cloud\n", 1)
    assert RangeIndex.from_bytes(index, edited) is None
    assert RangeIndex.from_bytes(index[:-4], text) is None
    assert RangeIndex.from_bytes(b"", text) is None
