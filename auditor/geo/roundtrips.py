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

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import cast

from auditor.capture import fastpath
from auditor.capture.columns import NO_DELAY, Address, FlowRows, Row
from auditor.model import Flow, RoundTrip, RoundTripKind

TCP = 6
UDP = 17
DNS_PORT = 53
# A QUIC server may speak first on a connection the capture joined half-way: a QUIC delay counts
# only for a flow that began this long after the capture did.
QUIC_JOIN_GUARD_S = 2.0
# The kinds, in the order _loop.trip_rows takes them.
KINDS = (RoundTripKind.TCP_HANDSHAKE, RoundTripKind.DNS, RoundTripKind.QUIC, RoundTripKind.STUN,
         RoundTripKind.TCP_SERVER_SIDE)  # fmt: skip

# Per (server address as the rows hold it, kind): [shortest seconds, samples (an int)]. A list,
# not a record: a dataclass's __init__ per server cost ~1 us (100k servers: 0.1 s).
Found = dict[tuple[Address, RoundTripKind], list[float]]
# _trip_rows's arguments after the rows: protocol, host keys, capture start, guard, kinds, found
TripRows = Callable[..., None]


def round_trips(
    capture: str, flows: Sequence[Flow], hosts: frozenset[str], capture_start: float | None
) -> Mapping[str, tuple[RoundTrip, ...]]:
    """Per server address, its round trips in this capture, one per kind, shortest first."""
    rows = FlowRows(flows)
    host_keys = {key for key in map(rows.key, hosts) if key is not None}
    found: Found = {}
    given = (host_keys, capture_start, QUIC_JOIN_GUARD_S, KINDS, found)
    columns = rows.columns
    if columns is not None and fastpath.compiled:  # the packed rows read by C, no row made
        compiled = _compiled_trip_rows()
        for chunk in columns.chunks:
            compiled(chunk.data, chunk.width, chunk.count, chunk.proto, *given)
    else:
        for proto, _version, group in rows.timed_groups():
            _trip_rows(group, proto, *given)
    by_server: dict[str, list[RoundTrip]] = {}
    for (server, kind), (seconds, samples) in found.items():
        trip = RoundTrip(capture, kind, seconds, cast("int", samples))
        by_server.setdefault(rows.text(server), []).append(trip)
    for trips in by_server.values():
        if len(trips) > 1:
            trips.sort(key=_order)
    return {server: tuple(trips) for server, trips in by_server.items()}


def _trip_rows(  # noqa: PLR0917 - _loop.trip_rows's arguments
    rows: Iterable[Row],
    proto: int,
    hosts: set[Address],
    capture_start: float | None,
    guard: float,
    kinds: tuple[RoundTripKind, ...],
    found: Found,
) -> None:
    """Each row's delays added to ``found``; _loop.trip_rows is this in C, on a chunk's packed
    rows (no row tuple made: unpacking them was most of this stage)."""
    handshake, dns, quic, stun, server_side = kinds
    no = NO_DELAY
    for (a, b, _a_port, b_port, _pab, _pba, _bab, _bba, first, _last, _frame, _syn_ab,
         _syn_ba, delay, _kinds, stun_delay, stun_samples, ack_delay) in rows:  # fmt: skip
        if delay == no and stun_delay == no and ack_delay == no:
            continue  # most flows: nothing to time
        if b in hosts:
            if ack_delay != no and a not in hosts:  # a capture on the server
                _sample(found, (a, server_side), ack_delay, 1)
            continue
        kind: RoundTripKind | None = None
        if proto == TCP:
            kind = handshake
        elif proto == UDP:
            if b_port == DNS_PORT:
                kind = dns
            elif not (capture_start is None or first - capture_start < guard):
                kind = quic  # not a flow the capture may have joined half-way
        if kind is not None and delay != no:
            _sample(found, (b, kind), delay, 1)
        if stun_delay != no:  # b answered a's STUN requests (matched by transaction)
            _sample(found, (b, stun), stun_delay, stun_samples)


def _compiled_trip_rows() -> TripRows:
    # Imported when the compiled loops run, which they do only where they were built.
    from auditor.capture._loop import trip_rows as compiled

    return compiled


def _order(trip: RoundTrip) -> tuple[float, RoundTripKind]:
    return trip.seconds, trip.kind


def _sample(found: Found, at: tuple[Address, RoundTripKind], seconds: float, samples: int) -> None:
    minimum = found.get(at)
    if minimum is None:
        found[at] = [seconds, samples]
    else:
        minimum[0] = min(minimum[0], seconds)
        minimum[1] += samples


def shortest(trips: Iterable[RoundTrip]) -> RoundTrip | None:
    return min(trips, key=lambda t: t.seconds, default=None)
