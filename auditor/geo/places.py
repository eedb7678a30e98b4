"""City names from DB-IP's data (auditor/data/places.json.gz, built by scripts/build_places.py):
where --vantage puts a city that the hint sites do not list, and how far apart DB-IP's points
for that name are."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PLACES_FILE = "places.json.gz"


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    name: str
    latitude: float
    longitude: float
    spread_km: float  # the farthest of DB-IP's points for this name from (latitude, longitude)


def fold(text: str) -> str:
    """A name as compared: case, spaces, dashes and underscores ignored."""
    return re.sub(r"[\s_-]+", " ", text.strip().casefold())


@lru_cache(maxsize=1)
def _places() -> Mapping[str, tuple[Place, ...]]:
    path = resources.files("auditor") / "data" / PLACES_FILE
    if not path.is_file():
        return {}
    data = json.loads(gzip.decompress(path.read_bytes()))
    unit = float(data["unit"])
    found: dict[str, list[Place]] = {}
    for code, name, lat, lon, spread in data["places"]:
        place = Place(str(code), str(name), lat / unit, lon / unit, float(spread))
        found.setdefault(fold(place.name), []).append(place)
    return {name: tuple(places) for name, places in found.items()}


def places_named(name: str, country: str | None = None) -> tuple[Place, ...]:
    """Every place of that name, in that country when one is given."""
    return tuple(
        p for p in _places().get(fold(name), ()) if country is None or p.country == country
    )
