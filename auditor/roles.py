"""What a server did in a meeting: its role, from what its flows' payloads were and its ports.

A payload is classified by its first bytes, the way RFC 7983 demultiplexes one WebRTC 5-tuple
(STUN 0-3, DTLS 20-63, RTP/RTCP 128-191) plus the clear-text openings of TLS, HTTP, QUIC and
DNS. Each check is cheap and bounded; the capture calls it on the first packets of each flow
direction only. A role is claimed with its evidence; a port alone is evidence only where the
platform the server is attributed to documents that port for its media, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# NO_PAYLOAD, not PayloadKind(0): a Flag enum call costs about a microsecond, and every
# payload a tap looks at (each of a young UDP direction's packets) is classified here.
from auditor.model import NO_PAYLOAD, PayloadKind, Role, RoleClaim
from auditor.stun import CLASSIC_TYPES

TCP = 6
UDP = 17

# RTP payload types in use for audio and video: the static ones (RFC 3551) and the dynamic
# range. 72-76 would be RTCP's 200-204 with the marker bit: left out, as RFC 5761 does.
_RTP_TYPES = frozenset(range(35)) | frozenset(range(96, 128))
_RTCP_TYPES = frozenset(range(200, 207))
_DTLS_VERSIONS = frozenset({0xFEFF, 0xFEFD, 0xFEFC})
_TLS_TYPES = frozenset(range(20, 25))
_TURN_METHODS = frozenset({3, 4, 6, 7, 8, 9})  # allocate, refresh, send, data, permission, bind
_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"OPTIONS ", b"DELETE ", b"PATCH ",
                 b"CONNECT ", b"HTTP/1.")  # fmt: skip
MAGIC_COOKIE = b"\x21\x12\xa4\x42"


def payload_kind(proto: int, payload: bytes | bytearray, port_53: bool = False) -> PayloadKind:
    """What one UDP or TCP payload is, by its first bytes (nothing: PayloadKind(0))."""
    if len(payload) < 4:
        return NO_PAYLOAD
    if port_53:
        return PayloadKind.DNS if len(payload) >= 12 else NO_PAYLOAD
    if proto == UDP:
        return _udp_kind(payload)
    return _tcp_kind(payload)


def _udp_kind(payload: bytes | bytearray) -> PayloadKind:
    first = payload[0]
    if first < 4:
        return _stun_kind(payload)
    if 0x40 <= first <= 0x4F:
        return _channel_data(payload)
    if 20 <= first <= 63:
        return _dtls(payload)
    if 128 <= first <= 191:
        return _rtp(payload)
    if first == 0x05 and len(payload) >= 24:
        return PayloadKind.ZOOM_MEDIA  # Zoom's SFU encapsulation: type 5, an 8-byte header
    if first >= 0xC0 and payload[1:5] in (b"\x00\x00\x00\x01", b"\x6b\x33\x43\xcf"):
        return PayloadKind.QUIC
    return NO_PAYLOAD


def _tcp_kind(payload: bytes | bytearray) -> PayloadKind:
    first = payload[0]
    if first in _TLS_TYPES and payload[1] == 3 and payload[2] <= 4:
        return PayloadKind.TLS
    if payload.startswith(_HTTP_METHODS):
        return PayloadKind.HTTP
    stun = _stun_kind(payload) if first < 4 else NO_PAYLOAD  # TURN over TCP: unframed
    if stun:
        return stun
    # RFC 4571: RTP over TCP behind a 2-byte length
    if len(payload) >= 14 and int.from_bytes(payload[:2], "big") <= len(payload) - 2:
        return _rtp(payload[2:])
    return NO_PAYLOAD


def _stun_kind(payload: bytes | bytearray) -> PayloadKind:
    if len(payload) < 20:
        return NO_PAYLOAD
    kind = (payload[0] << 8) | payload[1]
    # Without the magic cookie, RFC 3489's few message types: most payloads starting with 0-3
    # (zeros above all) end here, before their lengths are looked at.
    classic = payload[4:8] != MAGIC_COOKIE
    if classic and kind not in CLASSIC_TYPES:
        return NO_PAYLOAD
    length = (payload[2] << 8) | payload[3]
    if 20 + length > len(payload) or (length % 4 and 20 + length != len(payload)):
        return NO_PAYLOAD  # MS-TURN leaves lengths unpadded: see stun.py
    if classic and 20 + length != len(payload):
        return NO_PAYLOAD
    method = (kind & 0x000F) | ((kind & 0x00E0) >> 1) | ((kind & 0x3E00) >> 2)
    return PayloadKind.STUN | (PayloadKind.TURN if method in _TURN_METHODS else NO_PAYLOAD)


def _channel_data(payload: bytes | bytearray) -> PayloadKind:
    # TURN ChannelData (RFC 8656 12.4): channel 0x4000-0x4FFF, length of the application data,
    # padded to 4 bytes over UDP.
    length = int.from_bytes(payload[2:4], "big")
    padded = 4 + (length + 3) // 4 * 4
    return PayloadKind.TURN if len(payload) in (4 + length, padded) and length else NO_PAYLOAD


def _dtls(payload: bytes | bytearray) -> PayloadKind:
    if len(payload) < 13 or payload[0] > 25:
        return NO_PAYLOAD
    version = int.from_bytes(payload[1:3], "big")
    return PayloadKind.DTLS if version in _DTLS_VERSIONS else NO_PAYLOAD


def _rtp(payload: bytes | bytearray) -> PayloadKind:
    if len(payload) < 12 or not 128 <= payload[0] <= 191:  # version 2
        return NO_PAYLOAD
    if payload[1] in _RTCP_TYPES:
        return PayloadKind.RTCP
    if payload[1] & 0x7F in _RTP_TYPES and payload[8:12] != b"\0\0\0\0":  # SSRC set
        return PayloadKind.RTP
    return NO_PAYLOAD


# What each payload kind shows, in words, and the role it gives; strongest role first.
_EVIDENCE: tuple[tuple[PayloadKind, Role, str], ...] = (
    (PayloadKind.RTP, Role.MEDIA, "rtp"),
    (PayloadKind.RTCP, Role.MEDIA, "rtcp"),
    (PayloadKind.ZOOM_MEDIA, Role.MEDIA, "zoom media encapsulation"),
    (PayloadKind.TURN, Role.TURN_RELAY, "turn allocation or relayed data"),
    (PayloadKind.DTLS, Role.DTLS, "dtls record"),
    (PayloadKind.STUN, Role.STUN, "stun message"),
    (PayloadKind.DNS, Role.DNS, "dns message"),
    (PayloadKind.TUNNEL, Role.TRANSPORT, "tunnel endpoint"),
)
_WEB = (
    (PayloadKind.TLS, "tls"),
    (PayloadKind.QUIC, "quic"),
    (PayloadKind.HTTP, "http"),
)
# Media ports the vendors document for their own servers: a role from a port holds only for a
# server already attributed to that vendor, and the evidence says it is a port.
MEDIA_PORTS: Mapping[str, frozenset[str]] = {
    "Zoom": frozenset(f"{port}/udp" for port in range(8801, 8811)),
    "Webex": frozenset({"9000/udp", "5004/udp"}),
    "Teams": frozenset({"3478/udp", "3479/udp", "3480/udp", "3481/udp"}),
    "Meet": frozenset(f"{port}/udp" for port in range(19302, 19310)),
}
_ORDER = {role: n for n, role in enumerate(Role)}


def endpoint_roles(
    payloads: PayloadKind,
    ports: Iterable[str],
    platform: str | None,
    *,
    named_platform: bool,
) -> tuple[RoleClaim, ...]:
    """An endpoint's roles with their evidence, strongest first.

    TLS, QUIC and HTTP are signalling when the server is attributed to a platform by its name
    or the vendor's ranges (``named_platform``), else web. A documented media port of that
    platform makes it media where no payload said so.
    """
    claims: dict[Role, str] = {}
    for kind, role, words in _EVIDENCE:
        # Zoom's framing is one type byte: other apps' datagrams start with 5 too. It counts
        # for a server attributed to Zoom, by its port at least (two weak signals agreeing).
        zoom_only = kind is PayloadKind.ZOOM_MEDIA and platform != "Zoom"
        if payloads & kind and not zoom_only:
            claims.setdefault(role, words)
    web = [words for kind, words in _WEB if payloads & kind]
    if web:
        role = Role.SIGNALLING if named_platform else Role.WEB
        claims.setdefault(role, " + ".join(web) + (f" to a {platform} server" if named_platform
                                                   else ""))  # fmt: skip
    port_list = tuple(ports)
    if "53/udp" in port_list or "53/tcp" in port_list:
        claims.setdefault(Role.DNS, "port 53")
    documented = MEDIA_PORTS.get(platform or "", frozenset()) if named_platform else frozenset()
    if documented and Role.MEDIA not in claims:
        media = sorted(set(port_list) & documented)
        if media:
            claims[Role.MEDIA] = f"port {media[0]}, {platform}'s documented media port"
    if not claims:
        claims[Role.UNKNOWN] = "no payload the auditor recognises"
    return tuple(RoleClaim(r, e) for r, e in sorted(claims.items(), key=lambda c: _ORDER[c[0]]))


def role_names(claims: Iterable[RoleClaim]) -> tuple[str, ...]:
    return tuple(claim.role.value for claim in claims)
