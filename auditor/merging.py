"""One endpoint per server address across several captures (a day's batch): each capture's
counts, frames and times kept as its sightings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter

from auditor.endpoints import MAX_HOSTNAMES, REASON_STRENGTH, ServerTable
from auditor.model import ServerEndpoint, Sighting, build_server_endpoint


def merge_endpoints(groups: Iterable[Sequence[ServerEndpoint]]) -> Sequence[ServerEndpoint]:
    """One endpoint per server address across several captures (a day's batch). One capture's
    table alone is that already (distinct addresses, busiest first): it is given back as it
    is, its endpoints not made."""
    given = [group for group in groups if len(group)]
    if len(given) == 1 and isinstance(given[0], ServerTable):
        return given[0]
    merged: dict[str, ServerEndpoint] = {}
    for group in given:
        for endpoint in group:
            known = merged.get(endpoint.ip)
            merged[endpoint.ip] = endpoint if known is None else _combine(known, endpoint)
    endpoints = list(merged.values())
    _sort_busiest_first(endpoints)
    return tuple(endpoints)


def _sort_busiest_first(endpoints: list[ServerEndpoint]) -> None:
    """Most bytes first, equal bytes by address, sorted on keys C makes (a million endpoints):
    by address, then by bytes, largest first (stable: a reverse sort too keeps equal keys in
    their order)."""
    endpoints.sort(key=attrgetter("ip"))
    endpoints.sort(key=attrgetter("bytes"), reverse=True)


def _combine(left: ServerEndpoint, right: ServerEndpoint) -> ServerEndpoint:
    # An endpoint STUN/TURN only named has no frame: the one with packets says when it began.
    first = min(left, right, key=lambda e: (e.flows == 0, e.first_seen))
    stronger = max(left.reason, right.reason, key=REASON_STRENGTH.__getitem__)
    # Every field, in order, for the builder (auditor/frozen.py): the dataclass __init__ cost
    # ~4 us an endpoint, a million times when two captures' servers all merge.
    return build_server_endpoint(
        left.ip,
        left.packets + right.packets,
        left.bytes + right.bytes,
        left.flows + right.flows,
        tuple(sorted(set(left.ports) | set(right.ports), key=_port_sort_key)),
        tuple(sorted(set(left.protocols) | set(right.protocols))),
        first.first_seen,
        max(left.last_seen, right.last_seen),
        first.first_frame,
        stronger,
        tuple(dict.fromkeys(left.hostnames + right.hostnames))[:MAX_HOSTNAMES],
        left.platform or right.platform,
        tuple(dict.fromkeys(left.captures + right.captures)),
        left.payloads | right.payloads,
        tuple(dict.fromkeys(left.roles + right.roles)),
        None,  # platform_basis: attribution, a later stage, gives it
        _sightings(left, right),
    )


def _sightings(left: ServerEndpoint, right: ServerEndpoint) -> tuple[Sighting, ...]:
    """Each capture's own counts, frames and times, kept when endpoints of several merge; the
    same capture twice (given twice on the command line) is added up."""
    merged: dict[str, Sighting] = {}
    for seen in (*left.seen_in(), *right.seen_in()):
        known = merged.get(seen.capture)
        merged[seen.capture] = seen if known is None else _add(known, seen)
    return tuple(merged.values()) if len(merged) > 1 else ()


def _add(known: Sighting, seen: Sighting) -> Sighting:
    first = known if known.first_seen <= seen.first_seen else seen
    return Sighting(known.capture, known.packets + seen.packets, known.bytes + seen.bytes,
                    known.flows + seen.flows, first.first_seen,
                    max(known.last_seen, seen.last_seen), first.first_frame)


def _port_sort_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return int(number), proto
