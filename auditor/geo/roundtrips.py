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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditor.capture.columns import NO_DELAY, Address, FlowRows
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
    capture: str, flows: Sequence[Flow], hosts: frozenset[str], capture_start: float | None
) -> Mapping[str, tuple[RoundTrip, ...]]:
    """Per server address, its round trips in this capture, one per kind, shortest first."""
    rows = FlowRows(flows)
    host_keys = {key for key in map(rows.key, hosts) if key is not None}
    found: dict[tuple[Address, RoundTripKind], _Minimum] = {}
    no = NO_DELAY
    for proto, _version, group in rows.timed_groups():
        for (a, b, _a_port, b_port, _pab, _pba, _bab, _bba, first, _last, _frame, _syn_ab,
             _syn_ba, delay, _kinds, stun_delay, stun_samples, ack_delay) in group:  # fmt: skip
            if delay == no and stun_delay == no and ack_delay == no:
                continue  # most flows: nothing to time
            if b in host_keys:
                if ack_delay != no and a not in host_keys:  # a capture on the server
                    _sample(found, (a, RoundTripKind.TCP_SERVER_SIDE), ack_delay, 1)
                continue
            kind = _kind(proto, b_port, first, capture_start)
            if kind is not None and delay != no:
                _sample(found, (b, kind), delay, 1)
            if stun_delay != no:  # b answered a's STUN requests (matched by transaction)
                _sample(found, (b, RoundTripKind.STUN), stun_delay, stun_samples)
    by_server: dict[str, list[RoundTrip]] = {}
    for (server, kind), minimum in found.items():
        trip = RoundTrip(capture, kind, minimum.seconds, minimum.samples)
        by_server.setdefault(rows.text(server), []).append(trip)
    for trips in by_server.values():
        if len(trips) > 1:
            trips.sort(key=_order)
    return {server: tuple(trips) for server, trips in by_server.items()}


def _order(trip: RoundTrip) -> tuple[float, RoundTripKind]:
    return trip.seconds, trip.kind


def _sample(
    found: dict[tuple[Address, RoundTripKind], _Minimum],
    at: tuple[Address, RoundTripKind],
    seconds: float,
    samples: int,
) -> None:
    minimum = found.get(at)
    if minimum is None:
        found[at] = _Minimum(seconds, samples)
    else:
        minimum.seconds = min(minimum.seconds, seconds)
        minimum.samples += samples


def _kind(
    proto: int, b_port: int, first_seen: float, capture_start: float | None
) -> RoundTripKind | None:
    if proto == TCP:
        return RoundTripKind.TCP_HANDSHAKE
    if proto != UDP:
        return None
    if b_port == 53:
        return RoundTripKind.DNS
    joined = capture_start is None or first_seen - capture_start < QUIC_JOIN_GUARD_S
    return None if joined else RoundTripKind.QUIC


def shortest(trips: Iterable[RoundTrip]) -> RoundTrip | None:
    return min(trips, key=lambda t: t.seconds, default=None)
