"""Where a capture was taken: given (--vantage, the policy file) or inferred, with its radius."""

from __future__ import annotations

import re

from auditor.geo.geometry import Point, main_centre
from auditor.geo.hints import hint_table
from auditor.model import Location, Vantage, VantageSource

CITY_RADIUS_KM = 50.0  # a metro area named by its city
POINT_RADIUS_KM = 0.0  # coordinates as given; the outline margin still applies
_LAT_LON = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*$")


class VantageError(ValueError):
    """A vantage that names no place this auditor knows."""


def parse_vantage(spec: str, source: VantageSource = VantageSource.GIVEN) -> Vantage:
    """A vantage from "lat,lon", an ISO country code ("SE") or a city the hint sites list."""
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
    site = hint_table().site_named(text)
    if site is None:
        raise VantageError(
            f"{text!r} is neither lat,lon, an ISO country code nor a known city"
        )
    return Vantage(site.latitude, site.longitude, CITY_RADIUS_KM, source, site.place)


def country_vantage(code: str, source: VantageSource, label: str) -> Vantage | None:
    """Somewhere in a country: its main landmass as a disk (see geometry.main_centre)."""
    centre = main_centre(code)
    if centre is None:
        return None
    point, reach = centre
    return Vantage(point.latitude, point.longitude, reach, source, label)


def inferred_vantage(capture: str, host_locations: list[Location]) -> Vantage | None:
    """The capture host's own public address, located: its country, as a disk. The smallest
    such disk when the host has several public addresses that the databases agree on."""
    candidates = []
    for location in host_locations:
        countries = {a.country for a in location.answers if a.country}
        if location.country and countries <= {location.country}:
            label = f"{location.ip} ({location.country})"
            found = country_vantage(location.country, VantageSource.HOST_ADDRESS, label)
            if found is not None:
                candidates.append(found)
    if not candidates:
        return None
    best = min(candidates, key=lambda v: v.radius_km)
    return Vantage(best.latitude, best.longitude, best.radius_km, best.source, best.label, capture)
