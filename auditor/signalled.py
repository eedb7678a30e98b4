"""Endpoints no packet went to: addresses STUN/TURN messages named (issue 12).

A TURN allocation's relayed address is the relay the media goes through; a STUN server's
mapped address is where the world saw the client; a peer address is where a relay was told to
forward. None of them needs a packet of its own in the capture to matter, so each becomes an
endpoint with its role and what showed it, located and judged like any other.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.model import (
    NO_PAYLOAD,
    Role,
    RoleClaim,
    ServerEndpoint,
    ServerReason,
    SignalledAddress,
    SignalledKind,
    build_server_endpoint,
)

ROLE_OF: dict[SignalledKind, Role] = {
    SignalledKind.RELAYED: Role.TURN_RELAY,
    SignalledKind.MAPPED: Role.REFLEXIVE,
    SignalledKind.PEER: Role.TURN_PEER,
}
_WORDS = {
    SignalledKind.RELAYED: "relayed address a TURN server allocated",
    SignalledKind.MAPPED: "mapped address a STUN server answered",
    SignalledKind.PEER: "peer address a TURN relay was given",
}


def signalled_endpoints(
    signalled: Iterable[SignalledAddress],
    hosts: frozenset[str],
    capture: str,
    seen_at: float,
) -> tuple[ServerEndpoint, ...]:
    """One endpoint per address STUN/TURN named, except the capture's own host (never judged
    as a server). ``seen_at``: the capture's start, as these have no packet of their own."""
    claims: dict[str, dict[RoleClaim, None]] = {}
    for found in signalled:
        if found.address in hosts:
            continue
        # The port goes into the evidence, not the endpoint's ports: those are where packets
        # went, and no packet went to this one.
        evidence = f"{_WORDS[found.kind]}: port {found.port} ({found.server})"
        claims.setdefault(found.address, {})[RoleClaim(ROLE_OF[found.kind], evidence)] = None
    # Every field, in order, for the builder (auditor/frozen.py): the dataclass __init__ cost
    # ~4 us an endpoint. No packets, ports, names or payloads: only what signalling named.
    return tuple(
        build_server_endpoint(
            address, 0, 0, 0, (), (), seen_at, seen_at, 0, ServerReason.SIGNALLED, (), None,
            (capture,), NO_PAYLOAD, tuple(roles), None, (),
        )
        for address, roles in claims.items()
    )
