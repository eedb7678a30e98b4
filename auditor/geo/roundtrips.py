"""Passive round trips: the shortest request-to-answer delay a capture shows for each server.

Each flow carries the delay from its first packet to the other side's first when that answer
can only have been caused by the request (Flow.answer_delay). Such a delay is the round trip
from the capture point to the server plus the server's own time: never shorter than the true
round trip, so the bound physics draws from it is never too tight.

Only an address that is not the capture's own host gets a round trip. A capture taken on a
server sees its own SYN/ACK leave right after the SYN, which says nothing of the client's place;
there the client's ACK of that SYN/ACK (Flow.ack_delay) gives the round trip to the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auditor.model import Flow, RoundTrip, RoundTripKind

TCP = 6
UDP = 17
# A QUIC server may speak first on a connection the capture joined half-way: a QUIC delay counts
# only for a flow that began this long after the capture did.
QUIC_JOIN_GUARD_S = 2.0


@dataclass(slots=True)
class _Minimum:
    seconds: float
    samples: int = 1


def round_trips(
    capture: str, flows: Iterable[Flow], hosts: frozenset[str], capture_start: float | None
) -> Mapping[str, tuple[RoundTrip, ...]]:
    """Per server address, its round trips in this capture, one per kind, shortest first."""
    found: dict[tuple[str, RoundTripKind], _Minimum] = {}
    for flow in flows:
        if flow.b in hosts:
            if flow.ack_delay is not None and flow.a not in hosts:  # a capture on the server
                _sample(found, (flow.a, RoundTripKind.TCP_SERVER_SIDE), flow.ack_delay, 1)
            continue
        kind = _kind(flow, capture_start)
        if kind is not None and flow.answer_delay is not None:
            _sample(found, (flow.b, kind), flow.answer_delay, 1)
        if flow.stun_delay is not None:  # b answered a's STUN requests (matched by transaction)
            _sample(found, (flow.b, RoundTripKind.STUN), flow.stun_delay, flow.stun_samples)
    by_server: dict[str, list[RoundTrip]] = {}
    for (server, kind), minimum in found.items():
        trip = RoundTrip(capture, kind, minimum.seconds, minimum.samples)
        by_server.setdefault(server, []).append(trip)
    return {s: tuple(sorted(t, key=lambda r: (r.seconds, r.kind))) for s, t in by_server.items()}


def _sample(
    found: dict[tuple[str, RoundTripKind], _Minimum],
    at: tuple[str, RoundTripKind],
    seconds: float,
    samples: int,
) -> None:
    minimum = found.get(at)
    if minimum is None:
        found[at] = _Minimum(seconds, samples)
    else:
        minimum.seconds = min(minimum.seconds, seconds)
        minimum.samples += samples


def _kind(flow: Flow, capture_start: float | None) -> RoundTripKind | None:
    if flow.protocol == TCP:
        return RoundTripKind.TCP_HANDSHAKE
    if flow.protocol != UDP:
        return None
    if flow.b_port == 53:
        return RoundTripKind.DNS
    joined = capture_start is None or flow.first_seen - capture_start < QUIC_JOIN_GUARD_S
    return None if joined else RoundTripKind.QUIC


def shortest(trips: Iterable[RoundTrip]) -> RoundTrip | None:
    return min(trips, key=lambda t: t.seconds, default=None)
