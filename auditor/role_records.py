"""What a server did in the meeting: payload kinds seen, roles and what showed them;
re-exported by auditor.model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag, StrEnum


class PayloadKind(IntFlag):
    """What a flow's payloads were seen to be: one bit per kind, OR-ed over the packets the
    capture looked at (see auditor/roles.py for the checks)."""

    RTP = 1  # RTP version 2 with an audio/video payload type (SRTP keeps this header clear)
    RTCP = 2  # RTP version 2 with an RTCP packet type (200-206)
    ZOOM_MEDIA = 4  # Zoom's SFU encapsulation (type 5) around its media
    STUN = 8  # a STUN message (magic cookie, or RFC 3489's classic header)
    TURN = 16  # a TURN allocation, relayed data (Send/Data indication) or a ChannelData frame
    DTLS = 32  # a DTLS record (content type 20-25, version 1.0/1.2/1.3)
    TLS = 64  # a TLS record
    HTTP = 128  # a plain HTTP request or response
    QUIC = 256  # a QUIC long-header packet
    DNS = 512  # a DNS message on port 53
    TUNNEL = 1024  # a tunnel's outer packet (GTP-U, VXLAN, Geneve, GRE, IP-in-IP, 6in4)


NO_PAYLOAD = PayloadKind(0)  # nothing recognised (or nothing looked at)


class Role(StrEnum):
    """What a server did in the meeting (issue 12), from its flows' payloads and ports."""

    SIGNALLING = "signalling"  # TLS/HTTP/QUIC to a meeting platform's server
    MEDIA = "media"  # RTP/RTCP/SRTP, or a platform's own media framing
    STUN = "stun"  # STUN binding only
    TURN_RELAY = "turn-relay"  # relays media: a TURN allocation or relayed data
    REFLEXIVE = "reflexive"  # the address a STUN server saw the client as
    TURN_PEER = "turn-peer"  # a peer a TURN relay was told to forward to
    DTLS = "dtls"  # DTLS (the key exchange of WebRTC media)
    DNS = "dns"
    WEB = "web"  # TLS/HTTP/QUIC to a server no meeting platform is known for
    TRANSPORT = "transport"  # a tunnel endpoint: the flows inside are audited on their own
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RoleClaim:
    """One role of an endpoint and what showed it (untrusted names never go in here)."""

    role: Role
    evidence: str  # "rtp", "stun message", "relayed address in a TURN allocation", ...
