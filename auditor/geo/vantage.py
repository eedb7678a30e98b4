"""Where a capture was taken: given (--vantage, the policy file) or inferred, with its radius."""

from __future__ import annotations

import dataclasses
import re

from auditor.geo.geometry import Point, main_centre
from auditor.geo.hints import hint_table
from auditor.geo.places import places_named
from auditor.model import Location, Vantage, VantagePlace, VantageSource

CITY_RADIUS_KM = 50.0  # a metro area named by its city
# A name whose DB-IP points are farther apart than this is several towns (DB-IP's state names
# are not bundled): refused rather than taken as one place.
MAX_CITY_SPREAD_KM = 100.0
POINT_RADIUS_KM = 0.0  # coordinates as given; the outline margin still applies
_LAT_LON = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*$")


class VantageError(ValueError):
    """A vantage that names no place this auditor knows."""


def parse_vantage(spec: str, source: VantageSource = VantageSource.GIVEN) -> Vantage:
    """A vantage from "lat,lon", an ISO country code ("SE"), or a city: a hint site, else a city
    name in DB-IP's data, written "Name" or "Name, CC" where the name is in several countries."""
    text = spec.strip()
    match = _LAT_LON.match(text)
    if match:
        try:
            point = Point(float(match.group(1)), float(match.group(2)))
        except ValueError as error:
            raise VantageError(str(error)) from error
        return Vantage(point.latitude, point.longitude, POINT_RADIUS_KM, source, text)
    if len(text) == 2 and text.isascii() and text.isalpha():
        country = country_vantage(text.upper(), source, text.upper())
        if country is None:
            raise VantageError(f"no outline for country {text.upper()!r}")
        return country
    return city_vantage(text, source)


def city_vantage(text: str, source: VantageSource) -> Vantage:
    """A city: the hint sites' own list first (curated points), then DB-IP's city names."""
    name, _, code = text.rpartition(",") if "," in text else (text, "", "")
    country = code.strip().upper() or None
    site = hint_table().site_named(name)
    if site is not None and country in (None, site.country):
        return Vantage(site.latitude, site.longitude, CITY_RADIUS_KM, source, site.place,
                       place=VantagePlace.SITE)  # fmt: skip
    places = places_named(name, country)
    if not places:
        raise VantageError(
            f"{text!r} is neither lat,lon, an ISO country code nor a known city"
        )
    if len(places) > 1:
        codes = ", ".join(sorted(p.country for p in places))
        raise VantageError(f"{name.strip()!r} is a city in {codes}: write '{name.strip()}, CC'")
    (place,) = places
    if place.spread_km > MAX_CITY_SPREAD_KM:
        raise VantageError(
            f"DB-IP's places named {place.name!r} in {place.country} lie up to "
            f"{place.spread_km:,.0f} km apart: give lat,lon"
        )
    label = f"{place.name}, {place.country}"
    radius = CITY_RADIUS_KM + place.spread_km
    return Vantage(place.latitude, place.longitude, radius, source, label,
                   place=VantagePlace.DBIP_CITY)  # fmt: skip


def country_vantage(code: str, source: VantageSource, label: str) -> Vantage | None:
    """Somewhere in a country: its main landmass as a disk (see geometry.main_centre)."""
    centre = main_centre(code)
    if centre is None:
        return None
    point, reach = centre
    return Vantage(
        point.latitude, point.longitude, reach, source, label, place=VantagePlace.COUNTRY
    )


def inferred_vantage(
    capture: str,
    locations: list[Location],
    source: VantageSource = VantageSource.HOST_ADDRESS,
) -> Vantage | None:
    """The capture host's public addresses (its own, or as STUN servers saw it), located: their
    country, as a disk. None unless every address is placed, by databases that agree, in one
    country: a host seen from two countries (a VPN, a tunnel) has no one vantage."""
    countries = set()
    for location in locations:
        answered = {a.country for a in location.answers if a.country}
        if not location.country or not answered <= {location.country}:
            return None
        countries.add(location.country)
    if len(countries) != 1:
        return None
    (country,) = countries
    label = f"{', '.join(sorted(loc.ip for loc in locations))} ({country})"
    found = country_vantage(country, source, label)
    return None if found is None else dataclasses.replace(found, capture=capture)
