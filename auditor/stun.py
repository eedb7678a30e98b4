"""STUN and TURN messages (RFC 8489, RFC 8656): the addresses and names they carry.

A TURN allocation's relayed address, a STUN server's idea of the client's address (mapped) and
the peer a relay forwards to are in the packets, not in any flow's header. This parser reads
them from one UDP payload (or one TCP-framed message). Payloads are hostile: every length is
bounded, the walk stops after a fixed number of attributes, and anything malformed gives None
rather than an exception. Names (REALM, SOFTWARE) are untrusted text; reports escape them.

Not wired into the capture taps yet: that is the capture stage's (a later step).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum

MAGIC_COOKIE = 0x2112A442
HEADER = 20
ALLOCATE = 3
MAX_ATTRIBUTES = 64  # real messages carry a dozen; a hostile one stops here
MAX_TEXT = 763  # RFC 8489: REALM and SOFTWARE are under 128 characters, at most 763 bytes


CLASSIC_TYPES = frozenset(
    {0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112, 0x0003, 0x0103, 0x0113, 0x0004, 0x0104,
     0x0114, 0x0115, 0x0016, 0x0017, 0x0008, 0x0108, 0x0118, 0x0009, 0x0109, 0x0119}
)  # fmt: skip  binding, shared secret, allocate, refresh, send/data, permission, channel


class Attribute(IntEnum):
    MAPPED_ADDRESS = 0x0001
    XOR_PEER_ADDRESS = 0x0012
    REALM = 0x0014
    XOR_RELAYED_ADDRESS = 0x0016
    XOR_MAPPED_ADDRESS = 0x0020
    SOFTWARE = 0x8022
    XOR_MAPPED_ADDRESS_OLD = 0x8020  # draft value some clients still send


class MessageClass(IntEnum):
    REQUEST = 0
    INDICATION = 1
    SUCCESS = 2
    ERROR = 3


@dataclass(frozen=True, slots=True)
class TransportAddress:
    ip: str
    port: int


@dataclass(frozen=True, slots=True)
class StunMessage:
    method: int  # 1 binding, 3 allocate, 4 refresh, 6 send, 7 data, 8 create permission...
    message_class: MessageClass
    transaction_id: bytes
    mapped: tuple[TransportAddress, ...] = ()
    relayed: tuple[TransportAddress, ...] = ()
    peers: tuple[TransportAddress, ...] = ()
    realm: str | None = None
    software: str | None = None


def parse_stun(payload: bytes) -> StunMessage | None:
    """The STUN message at the start of ``payload``, if it is one with the magic cookie."""
    try:
        return _parse(payload)
    except (IndexError, struct.error, ValueError):
        return None


def _parse(payload: bytes) -> StunMessage | None:
    if len(payload) < HEADER:
        return None
    kind, length, cookie = struct.unpack_from("!HHI", payload)
    if kind & 0xC000 or HEADER + length > len(payload):
        return None
    # MS-TURN leaves lengths unpadded: only a message filling its datagram exactly may.
    if length % 4 and HEADER + length != len(payload):
        return None
    # RFC 3489 (and MS-TURN, which Teams speaks) has no magic cookie: its 16-byte transaction
    # ID starts there. Such a message is accepted only when its type is a known one and its
    # length is exactly the datagram's, as nothing else marks it as STUN.
    if cookie != MAGIC_COOKIE and (kind not in CLASSIC_TYPES or HEADER + length != len(payload)):
        return None
    transaction = payload[8:HEADER]
    found: dict[str, list[TransportAddress]] = {
        "mapped": [], "relayed": [], "peers": [], "plain": []
    }  # fmt: skip
    texts: dict[int, str] = {}
    offset, end = HEADER, HEADER + length
    for _ in range(MAX_ATTRIBUTES):
        if offset + 4 > end:
            break
        attribute, size = struct.unpack_from("!HH", payload, offset)
        value = payload[offset + 4 : offset + 4 + size]
        if len(value) != size or offset + 4 + size > end:
            if offset == HEADER:
                return None  # the first attribute running past the message: not STUN
            break  # MS-TURN's unpadded last attribute: keep what came before
        _read_attribute(attribute, value, transaction, found, texts)
        offset += 4 + (size + 3) // 4 * 4  # values are padded to 4 bytes
    method = (kind & 0x000F) | ((kind & 0x00E0) >> 1) | ((kind & 0x3E00) >> 2)
    message_class = MessageClass(((kind & 0x0100) >> 7) | ((kind & 0x0010) >> 4))
    # MS-TURN (Teams) answers an Allocate with the allocated address in a plain MAPPED-ADDRESS
    # and no XOR-RELAYED-ADDRESS; anywhere else MAPPED-ADDRESS is the reflexive address.
    if method == ALLOCATE and message_class is MessageClass.SUCCESS and not found["relayed"]:
        found["relayed"] = found["plain"]
    else:
        found["mapped"] += found["plain"]
    return StunMessage(
        method=method,
        message_class=message_class,
        transaction_id=transaction,
        mapped=tuple(found["mapped"]),
        relayed=tuple(found["relayed"]),
        peers=tuple(found["peers"]),
        realm=texts.get(Attribute.REALM),
        software=texts.get(Attribute.SOFTWARE),
    )


_XOR_ROLES = {
    Attribute.XOR_MAPPED_ADDRESS: "mapped",
    Attribute.XOR_MAPPED_ADDRESS_OLD: "mapped",
    Attribute.XOR_RELAYED_ADDRESS: "relayed",
    Attribute.XOR_PEER_ADDRESS: "peers",
}


def _read_attribute(
    attribute: int,
    value: bytes,
    transaction: bytes,
    found: dict[str, list[TransportAddress]],
    texts: dict[int, str],
) -> None:
    role = _XOR_ROLES.get(attribute)  # type: ignore[call-overload]
    if role is not None:
        address = _address(value, transaction, xor=True)
        if address is not None:
            found[role].append(address)
    elif attribute == Attribute.MAPPED_ADDRESS:
        address = _address(value, transaction, xor=False)
        if address is not None:
            found["plain"].append(address)
    elif attribute in (Attribute.REALM, Attribute.SOFTWARE) and len(value) <= MAX_TEXT:
        text = _text(value)
        if text is not None:
            texts[attribute] = text


def _address(value: bytes, transaction: bytes, *, xor: bool) -> TransportAddress | None:
    """A (XOR-)MAPPED-ADDRESS-style value: reserved byte, family, port, address."""
    if len(value) < 4:
        return None
    family = value[1]
    (port,) = struct.unpack_from("!H", value, 2)
    size = {1: 4, 2: 16}.get(family)
    if size is None or len(value) != 4 + size:
        return None
    raw = value[4:]
    if xor:
        port ^= MAGIC_COOKIE >> 16
        mask = struct.pack("!I", MAGIC_COOKIE) + transaction
        raw = bytes(b ^ m for b, m in zip(raw, mask, strict=False))
    ip = ipaddress.IPv4Address(raw) if size == 4 else ipaddress.IPv6Address(raw)
    return TransportAddress(str(ip), port)


def _text(value: bytes) -> str | None:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text or None
