"""Physics: how far a server can be from the capture point, given its shortest round trip.

Light in fibre covers about 200 km per millisecond, so a round trip of one millisecond bounds
the great-circle distance to about 100 km (CBG, Gueye et al. 2006, use the same 2/3 c bound as
their upper "baseline"; real paths are longer, which only makes the bound loose, never wrong).
A country none of whose territory lies within the bound (widened by the vantage's own radius
and the outlines' margin) is refuted for that server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from auditor.geo.geometry import (
    OUTLINE_MARGIN_KM,
    Point,
    countries_within,
    distances_from,
    outlines,
)
from auditor.model import CountryAnswer, Location, PhysicsBound, RoundTrip, Vantage

KM_PER_MS = 100.0
# Round trips this short put a server within about 1,500 km: the ones the consistency check
# looks at, as a capture whose round trips are not physical shows them as servers on several
# continents all answering within a few milliseconds.
FAST_MS = 15.0
# A capture is set aside when this many fast servers, and at least this share of them, cannot
# be where the databases place them together with the rest: a few wrong database answers are
# what physics is for; a third of them wrong at once means the round trips are not real.
SET_ASIDE_MIN = 3
SET_ASIDE_SHARE = 1 / 3


def reach_km(trip: RoundTrip) -> float:
    return trip.seconds * 1000.0 * KM_PER_MS


def bound(vantage: Vantage, trip: RoundTrip) -> PhysicsBound:
    radius = reach_km(trip) + vantage.radius_km + OUTLINE_MARGIN_KM
    countries = countries_within(Point(vantage.latitude, vantage.longitude), radius)
    return PhysicsBound(trip.capture, vantage, trip, radius, countries)


def refutes(physics: PhysicsBound, country: str) -> bool:
    """Whether the bound rules ``country`` out; a code without an outline is never refuted."""
    return country in outlines() and country not in physics.countries


def located_countries(location: Location) -> list[str]:
    """Every located country the databases give, upper case, in the order given."""
    codes = [a.country.upper() for a in location.answers if a.country]
    if location.country:
        codes.append(location.country.upper())
    return list(dict.fromkeys(codes))


def answer_countries(location: Location) -> frozenset[str]:
    """The located countries that have an outline (the only ones physics can check)."""
    return frozenset(c for c in located_countries(location) if c in outlines())


def implausible_share(
    fast: Mapping[str, RoundTrip], locations: Mapping[str, Location], vantage: Vantage | None
) -> tuple[int, int]:
    """(servers whose every database country is out of reach, fast servers with one): with
    a vantage, reach is from it; without, from the place most fast servers agree on."""
    placed = _placed(fast, locations)
    if not placed:
        return 0, 0
    total = sum(placed.values())
    best = total
    for centre, radius in _candidate_centres(placed, vantage):
        # Each country's distance from the centre once, not a set of countries in reach per
        # server: a million fast servers made that a quarter of a billion comparisons.
        distance = distances_from(centre)
        misfits = sum(
            count
            for (codes, reach), count in placed.items()
            if min(distance[c] for c in codes) > reach + radius + OUTLINE_MARGIN_KM
        )
        best = min(best, misfits)
    return best, total


def _placed(
    fast: Mapping[str, RoundTrip], locations: Mapping[str, Location]
) -> Counter[tuple[frozenset[str], float]]:
    """How many fast servers share each (database countries, reach in km): a count per kind,
    not a set per server, so that a million servers of a few networks cost a few entries."""
    codes_of: dict[tuple[str | None, tuple[CountryAnswer, ...]], frozenset[str]] = {}
    placed: Counter[tuple[frozenset[str], float]] = Counter()
    for ip, trip in fast.items():
        location = locations.get(ip)
        if location is None:
            continue
        key = (location.country, location.answers)
        codes = codes_of.get(key)
        if codes is None:
            codes = codes_of[key] = answer_countries(location)
        if codes:
            placed[(codes, reach_km(trip))] += 1
    return placed


def _candidate_centres(
    placed: Mapping[tuple[frozenset[str], float], int], vantage: Vantage | None
) -> Sequence[tuple[Point, float]]:
    if vantage is not None:
        return [(Point(vantage.latitude, vantage.longitude), vantage.radius_km)]
    from auditor.geo.vantage import country_vantage
    from auditor.model import VantageSource

    centres = []
    for code in sorted({c for codes, _reach in placed for c in codes}):
        found = country_vantage(code, VantageSource.GIVEN, code)
        if found is not None:
            centres.append((Point(found.latitude, found.longitude), found.radius_km))
    return centres


def set_aside_reason(
    capture: str,
    trips: Mapping[str, RoundTrip],
    locations: Mapping[str, Location],
    vantage: Vantage | None,
) -> str | None:
    """Why this capture's round trips cannot be trusted, or None when they can."""
    fast = {ip: t for ip, t in trips.items() if t.seconds * 1000.0 <= FAST_MS}
    misfits, placed = implausible_share(fast, locations, vantage)
    if misfits >= SET_ASIDE_MIN and misfits >= SET_ASIDE_SHARE * placed:
        where = "the vantage" if vantage is not None else "any one place"
        return (
            f"{capture}: {misfits} of {placed} servers answering within {FAST_MS:g} ms cannot "
            f"all be that close to {where} where the databases place them; the capture's "
            "round trips are not physical (e.g. an app or proxy terminating TCP locally) and "
            "were set aside"
        )
    return None
