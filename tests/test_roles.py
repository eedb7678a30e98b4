"""Roles from payloads: the first-byte checks on made payloads, and on real meeting captures
read with dpkt (apart from the auditor's own reader)."""

from __future__ import annotations

import struct
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.model import PayloadKind, Role
from auditor.roles import endpoint_roles, payload_kind
from tests.dpktread import segments

UDP, TCP = 17, 6
K = PayloadKind


def _rtp(payload_type: int, ssrc: int = 0x1234) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, 1, 160, ssrc) + bytes(20)


def _stun(kind: int, cookie: bool = True, body: bytes = b"") -> bytes:
    magic = b"\x21\x12\xa4\x42" if cookie else b"\x11\x22\x33\x44"
    return struct.pack("!HH", kind, len(body)) + magic + bytes(12) + body


@pytest.mark.parametrize(
    ("proto", "payload", "expected"),
    [
        (UDP, _rtp(111), K.RTP),
        (UDP, _rtp(0x80 | 96), K.RTP),  # marker bit set
        (UDP, _rtp(200), K.RTCP),
        (UDP, _rtp(72), K(0)),  # RFC 5761's conflict range: neither
        (UDP, _rtp(50), K(0)),  # unassigned payload type
        (UDP, _rtp(111, ssrc=0), K(0)),  # no SSRC
        (UDP, _stun(0x0001), K.STUN),
        (UDP, _stun(0x0003), K.STUN | K.TURN),  # allocate
        (UDP, _stun(0x0017), K.STUN | K.TURN),  # data indication
        (UDP, _stun(0x0101, cookie=False), K.STUN),  # RFC 3489 / MS-TURN, exact length
        (UDP, _stun(0x0101, cookie=False) + b"\0\0\0\0", K(0)),  # classic: length must fit
        (UDP, _stun(0x7777, cookie=False), K(0)),
        (UDP, b"\x40\x01\x00\x05hello\0\0\0", K.TURN),  # ChannelData, padded
        (UDP, b"\x40\x01\x00\x09hello", K(0)),  # length past the datagram
        (UDP, b"\x16\xfe\xfd" + bytes(20), K.DTLS),
        (UDP, b"\x16\x03\x01" + bytes(20), K(0)),  # TLS version in a datagram: not DTLS
        (UDP, b"\xc3\x00\x00\x00\x01" + bytes(30), K.QUIC),
        (UDP, b"\x05" + bytes(30), K.ZOOM_MEDIA),
        (TCP, b"\x16\x03\x01\x02\x00\x01" + bytes(10), K.TLS),
        (TCP, b"GET / HTTP/1.1\r\n", K.HTTP),
        (TCP, struct.pack("!H", 32) + _rtp(96), K.RTP),  # RFC 4571 framing
        (TCP, _stun(0x0003), K.STUN | K.TURN),
        (UDP, b"\x80", K(0)),
        (TCP, b"", K(0)),
    ],
)
def test_payload_kind(proto: int, payload: bytes, expected: PayloadKind) -> None:
    assert payload_kind(proto, payload) == expected


def test_port_53_is_dns_only_when_long_enough() -> None:
    assert payload_kind(UDP, bytes(12), port_53=True) == K.DNS
    assert payload_kind(UDP, bytes(8), port_53=True) == K(0)


@given(st.sampled_from([UDP, TCP]), st.binary(max_size=80), st.booleans())
def test_never_raises(proto: int, payload: bytes, port_53: bool) -> None:
    payload_kind(proto, payload, port_53)


def _kinds(path: Path) -> dict[tuple[str, int, int], PayloadKind]:
    """Per server (address, port, protocol): the OR of every payload's kind, both ways."""
    found: dict[tuple[str, int, int], PayloadKind] = defaultdict(lambda: K(0))
    for seg in segments(path):
        kind = payload_kind(seg.proto, seg.payload, 53 in (seg.sport, seg.dport))
        found[(seg.src, seg.sport, seg.proto)] |= kind
        found[(seg.dst, seg.dport, seg.proto)] |= kind
    return found


@pytest.mark.parametrize(
    ("capture", "server", "expected"),
    [
        # Meet: STUN, DTLS and SRTP multiplexed on one 5-tuple (RFC 7983)
        ("stun_google_meet.pcapng", ("142.250.82.76", 19305, UDP), K.STUN | K.DTLS | K.RTP),
        # Teams peer-to-peer media beside its STUN checks
        ("teams.pcap", ("93.71.110.205", 16332, UDP), K.RTP | K.RTCP | K.STUN),
        ("zoom.pcap", ("109.94.160.99", 8801, UDP), K.ZOOM_MEDIA),
        ("zoom.pcap", ("109.94.160.99", 443, TCP), K.TLS),
        ("webex.pcap", ("78.46.237.91", 80, TCP), K.HTTP),
        # a TURN relay on TCP: allocations and relayed data
        ("stun_dtls_rtp.pcapng", ("142.250.82.249", 3478, TCP), K.STUN | K.TURN),
    ],
)
def test_real_captures(
    shared_data: Path, capture: str, server: tuple[str, int, int], expected: PayloadKind
) -> None:
    kinds = _kinds(shared_data / "pcaps" / "meetings" / capture)
    assert kinds[server] & expected == expected


def test_tls_is_signalling_only_to_a_named_platform() -> None:
    signalling = endpoint_roles(K.TLS, ["443/tcp"], "Zoom", named_platform=True)
    assert [c.role for c in signalling] == [Role.SIGNALLING]
    assert signalling[0].evidence == "tls to a Zoom server"
    web = endpoint_roles(K.TLS, ["443/tcp"], "Google Cloud", named_platform=False)
    assert [c.role for c in web] == [Role.WEB]


def test_documented_media_port_counts_only_for_that_platform() -> None:
    webex = endpoint_roles(K(0), ["9000/udp"], "Webex", named_platform=True)
    assert [c.role for c in webex] == [Role.MEDIA]
    assert "documented media port" in webex[0].evidence
    hinted = endpoint_roles(K(0), ["9000/udp"], "Webex", named_platform=False)
    assert [c.role for c in hinted] == [Role.UNKNOWN]


def test_zoom_framing_is_media_only_for_a_zoom_server() -> None:
    zoom = endpoint_roles(K.ZOOM_MEDIA, ["8801/udp"], "Zoom", named_platform=True)
    assert [c.role for c in zoom] == [Role.MEDIA]
    assert zoom[0].evidence == "zoom media encapsulation"
    other = endpoint_roles(K.ZOOM_MEDIA, ["35393/udp"], "Telegram", named_platform=True)
    assert [c.role for c in other] == [Role.UNKNOWN]


def test_roles_strongest_first_each_once() -> None:
    claims = endpoint_roles(K.STUN | K.DTLS | K.RTP | K.RTCP, ["19305/udp"], "Meet",
                            named_platform=True)  # fmt: skip
    assert [c.role for c in claims] == [Role.MEDIA, Role.STUN, Role.DTLS]
    assert claims[0].evidence == "rtp"
