"""The evidence stage: per endpoint, its round trips, the physics bound they draw around each
capture's vantage, hostname hints, and which database or hint countries physics refutes.

CBG (Gueye et al.) intersects delay disks from many landmarks; a passive capture has one
landmark, its own vantage, but every capture of a run adds one: the bound of an endpoint seen
from several captures is the intersection of their disks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditor.addresses import classify_address
from auditor.geo.geometry import Point, distances_from
from auditor.geo.hints import hint_source, hints_for
from auditor.geo.physics import bound, refutes, set_aside_reason
from auditor.geo.roundtrips import round_trips, shortest
from auditor.model import (
    Evidence,
    EvidenceSource,
    Flow,
    HintSource,
    HostnameHint,
    Location,
    NameSighting,
    PhysicsBound,
    Refutation,
    RoundTrip,
    Vantage,
)

MAX_NAMES_PER_ADDRESS = 32  # as endpoints.MAX_HOSTNAMES: a CDN address answers for thousands


@dataclass(frozen=True, slots=True)
class CaptureTrips:
    """What one capture tells the evidence stage, gathered where its flows are read."""

    capture: str
    trips: Mapping[str, tuple[RoundTrip, ...]]  # server address -> its round trips
    hosts: frozenset[str]  # the capture's own host addresses
    names: Mapping[str, tuple[tuple[str, HintSource], ...]]  # server address -> names seen
    # The host's public addresses as STUN servers saw them (mapped addresses in the answers the
    # host received): where the capture point meets the Internet when it sits behind a NAT.
    mapped: frozenset[str] = frozenset()


def capture_trips(
    capture: str,
    flows: Sequence[Flow],
    names: Iterable[NameSighting],
    hosts: frozenset[str],
    capture_start: float | None,
    *,
    mapped: Iterable[tuple[str, str]] = (),
) -> CaptureTrips:
    """Round trips and names of one capture's servers, taken while its flows are at hand.
    ``mapped``: (client, mapped address) pairs from STUN answers; only the host's own count (an
    answer the host sends to an ICE peer carries the peer's address)."""
    by_address: dict[str, dict[str, HintSource]] = {}
    for sighting in names:
        seen = by_address.setdefault(sighting.address, {})
        if len(seen) < MAX_NAMES_PER_ADDRESS:
            seen.setdefault(sighting.name, hint_source(sighting.source))
    return CaptureTrips(
        capture,
        round_trips(capture, flows, hosts, capture_start),
        hosts,
        {ip: tuple(seen.items()) for ip, seen in by_address.items()},
        frozenset(
            address
            for client, address in mapped
            if client in hosts and classify_address(address) is None
        ),
    )


@dataclass(frozen=True, slots=True)
class _CaptureView:
    trips: CaptureTrips
    vantage: Vantage | None
    set_aside: str | None


def gather_evidence(
    locations: Mapping[str, Location],
    captures: Sequence[CaptureTrips],
    vantages: Mapping[str, Vantage | None],
) -> dict[str, Evidence]:
    """Evidence for every address that any capture gives a round trip or a name to."""
    views = [_view(c, locations, vantages.get(c.capture)) for c in captures]
    addresses = {ip for c in captures for ip in (*c.trips, *c.names)}
    return {ip: _evidence(ip, locations.get(ip), views) for ip in sorted(addresses)}


def _view(
    capture: CaptureTrips, locations: Mapping[str, Location], vantage: Vantage | None
) -> _CaptureView:
    fastest = {ip: t for ip, trips in capture.trips.items() if (t := shortest(trips))}
    return _CaptureView(
        capture, vantage, set_aside_reason(capture.capture, fastest, locations, vantage)
    )


def _evidence(ip: str, location: Location | None, views: Sequence[_CaptureView]) -> Evidence:
    trips: list[RoundTrip] = []
    bounds: list[PhysicsBound] = []
    set_aside: list[str] = []
    names: dict[str, HintSource] = {}
    for view in views:
        mine = view.trips.trips.get(ip, ())
        trips.extend(mine)
        for name, source in view.trips.names.get(ip, ()):
            names.setdefault(name, source)
        fastest = shortest(mine)
        if fastest is None:
            continue
        if view.set_aside is not None:
            set_aside.append(view.set_aside)
        elif view.vantage is not None:
            bounds.append(bound(view.vantage, fastest))
    hints = hints_for(names.items())
    refutations = _refutations(location, hints, bounds)
    refuted_names = {r.what for r in refutations if r.source is EvidenceSource.HINT}
    hints = tuple(dataclasses.replace(h, refuted=h.name in refuted_names) for h in hints)
    return Evidence(tuple(trips), tuple(bounds), hints, tuple(refutations), tuple(set_aside))


def _refutations(
    location: Location | None, hints: Sequence[HostnameHint], bounds: Sequence[PhysicsBound]
) -> list[Refutation]:
    claims: list[tuple[EvidenceSource, str, str]] = []
    if location is not None:
        claims += [
            (EvidenceSource.DATABASE, a.database, a.country) for a in location.answers if a.country
        ]
        if location.country and not location.answers:
            claims.append((EvidenceSource.DATABASE, "", location.country))
    claims += [(EvidenceSource.HINT, h.name, h.country) for h in hints]
    found = []
    for physics in bounds:
        for source, what, country in claims:
            if refutes(physics, country.upper()):
                v = physics.vantage
                distance = distances_from(Point(v.latitude, v.longitude))[country.upper()]
                found.append(
                    Refutation(source, what, country.upper(), distance, physics.radius_km,
                               physics.capture)
                )  # fmt: skip
    return found
