"""Names for server addresses, read off the wire: DNS answers and TLS SNI (the capture stage's
parsers; which platform a name belongs to is attribution.py's).

The parsers take raw payload bytes from an untrusted capture: they bound every length, follow
at most a few compression pointers, and return nothing rather than raise on malformed input.
The names they return are untrusted too; the report layer escapes them.
"""

from __future__ import annotations

import ipaddress
import struct

MAX_NAME = 253  # RFC 1035: longer is not a host name
_MAX_POINTERS = 16  # compression loops in hostile packets end here
_TYPE_A, _TYPE_AAAA, _TYPE_CNAME = 1, 28, 5


def dns_answers(payload: bytes) -> list[tuple[str, str]]:
    """(queried name, address) pairs from the A/AAAA answers of one DNS response.

    The name paired with an address is the question's name, not the CNAME target: the user asked
    for `zoom.us`, and that is what a report should say the server was reached as.
    """
    return [(name, address) for name, address, chained in dns_names(payload) if not chained]


def dns_names(payload: bytes) -> list[tuple[str, str, bool]]:
    """(name, address, from the CNAME chain) for every A/AAAA answer of one DNS response: the
    question's name first, then each name of the CNAME chain from the question to the address
    record, in order. Vendors often name their sites only in the chain (a CDN's edge name)."""
    try:
        return _dns_names(payload)
    except (IndexError, struct.error, UnicodeDecodeError, ValueError):
        return []


_MAX_CHAIN = 8  # CNAME links followed from the question; loops end here


def _dns_names(payload: bytes) -> list[tuple[str, str, bool]]:
    if len(payload) < 12:
        return []
    flags, questions, answers = struct.unpack_from("!HHH", payload, 2)
    if not flags & 0x8000 or flags & 0x000F or questions != 1:  # a response, no error
        return []
    question, offset = _read_name(payload, 12)
    if not question:
        return []
    offset += 4  # qtype, qclass
    addresses: list[str] = []
    aliases: dict[str, str] = {}
    for _ in range(min(answers, 64)):
        owner, offset = _read_name(payload, offset)
        rtype, _, _, length = struct.unpack_from("!HHIH", payload, offset)
        offset += 10
        data = payload[offset : offset + length]
        if rtype == _TYPE_A and length == 4:
            addresses.append(str(ipaddress.IPv4Address(data)))
        elif rtype == _TYPE_AAAA and length == 16:
            addresses.append(str(ipaddress.IPv6Address(data)))
        elif rtype == _TYPE_CNAME:
            aliases.setdefault(owner, _read_name(payload, offset)[0])
        offset += length
    chain = _chain(question, aliases)
    found = []
    for address in addresses:
        found.append((question, address, False))
        found.extend((name, address, True) for name in chain)
    return found


def _chain(question: str, aliases: dict[str, str]) -> list[str]:
    chain: list[str] = []
    name = question
    while name in aliases and len(chain) < _MAX_CHAIN:
        name = aliases[name]
        if name == question or name in chain:
            break
        chain.append(name)
    return chain


def _read_name(payload: bytes, offset: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1  # where the name ends in the record, once a pointer was followed
    for _ in range(_MAX_POINTERS):
        while True:
            length = payload[offset]
            if length & 0xC0 == 0xC0:
                if end < 0:
                    end = offset + 2
                offset = ((length & 0x3F) << 8) | payload[offset + 1]
                break
            if length == 0:
                name = ".".join(labels).lower()
                if len(name) > MAX_NAME:
                    raise ValueError("name too long")
                return name, (end if end >= 0 else offset + 1)
            labels.append(payload[offset + 1 : offset + 1 + length].decode("ascii"))
            offset += 1 + length
    raise ValueError("too many compression pointers")


def tls_sni(payload: bytes) -> str | None:
    """The server_name of a TLS ClientHello at the start of a TCP payload, if there is one."""
    try:
        return _tls_sni(payload)
    except (IndexError, struct.error, UnicodeDecodeError, ValueError):
        return None


def client_hello_sni(message: bytes) -> str | None:
    """The server_name of a bare ClientHello handshake message (as QUIC carries it)."""
    try:
        return _hello_sni(message, 0) if message[:1] == b"\x01" else None
    except (IndexError, struct.error, UnicodeDecodeError, ValueError):
        return None


def _tls_sni(payload: bytes) -> str | None:
    if len(payload) < 43 or payload[0] != 0x16 or payload[5] != 0x01:  # handshake, ClientHello
        return None
    return _hello_sni(payload, 5)


def _hello_sni(payload: bytes, start: int) -> str | None:
    """The server_name of the ClientHello handshake message at ``payload[start]``."""
    offset = start + 4 + 2 + 32  # handshake header, version, random
    offset += 1 + payload[offset]  # session id
    (ciphers,) = struct.unpack_from("!H", payload, offset)
    offset += 2 + ciphers
    offset += 1 + payload[offset]  # compression methods
    (extensions_length,) = struct.unpack_from("!H", payload, offset)
    offset += 2
    end = min(offset + extensions_length, len(payload))
    while offset + 4 <= end:
        kind, length = struct.unpack_from("!HH", payload, offset)
        offset += 4
        if kind == 0:  # server_name: list length, then (type, length, name) entries
            name_type, name_length = struct.unpack_from("!BH", payload, offset + 2)
            if name_type != 0 or name_length > MAX_NAME:
                return None
            name = payload[offset + 5 : offset + 5 + name_length].decode("ascii").lower()
            return name if name and not _is_address(name) else None
        offset += length
    return None


def _is_address(name: str) -> bool:
    # RFC 6066 forbids address literals in server_name; some clients send them anyway, and an
    # address is no name for the report.
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
