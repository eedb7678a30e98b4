"""Country outlines (Natural Earth 1:50m, bundled) and distances on the sphere to them.

Distances are great-circle kilometres on a sphere of the Earth's mean radius, from a point to the
nearest point of a country's outline (its land border or coast), or 0 when the point is inside.
They are exact for the outlines as drawn; the outlines themselves are generalised at 1:50m, which
moves a coast by up to a few kilometres, so callers add OUTLINE_MARGIN_KM before refuting.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

EARTH_RADIUS_KM = 6371.0088
OUTLINE_MARGIN_KM = 10.0  # generalisation of the 1:50m outlines and 0.001-degree rounding
GEOMETRY_FILE = "countries.json.gz"

Vector = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0):
            raise ValueError(f"not a place on Earth: {self.latitude}, {self.longitude}")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of consecutive outline points as unit vectors, inside a spherical cap: the cap
    bounds every edge of the run from below, so far chunks are skipped without a look."""

    centre: Vector
    radius: float  # radians
    vectors: tuple[Vector, ...]


@dataclass(frozen=True, slots=True)
class Country:
    rings: tuple[tuple[tuple[float, float], ...], ...]  # (longitude, latitude) outlines
    box: tuple[float, float, float, float]  # west, south, east, north
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True, slots=True)
class Outlines:
    source: str
    licence: str
    countries: Mapping[str, Country]

    def __contains__(self, code: object) -> bool:
        return code in self.countries


@lru_cache(maxsize=1)
def outlines() -> Outlines:
    """The bundled outlines, read once."""
    path = resources.files("auditor") / "data" / GEOMETRY_FILE
    data = json.loads(gzip.decompress(path.read_bytes()))
    unit = float(data["unit"])
    countries = {
        code: _country([_ring(flat, unit) for flat in rings])
        for code, rings in data["countries"].items()
    }
    return Outlines(str(data["source"]), str(data["licence"]), countries)


CHUNK_POINTS = 24


def _ring(flat: list[int], unit: float) -> tuple[tuple[float, float], ...]:
    points = []
    x = y = 0
    for i in range(0, len(flat), 2):
        x, y = x + flat[i], y + flat[i + 1]
        points.append((x / unit, y / unit))
    return tuple(points)


def _country(rings: list[tuple[tuple[float, float], ...]]) -> Country:
    lons = [lon for ring in rings for lon, _ in ring]
    lats = [lat for ring in rings for _, lat in ring]
    chunks = []
    for ring in rings:
        vectors = [unit_vector(lat, lon) for lon, lat in ring]
        vectors.append(vectors[0])  # closed: the last edge returns to the start
        for start in range(0, len(vectors) - 1, CHUNK_POINTS):
            chunks.append(_chunk(tuple(vectors[start : start + CHUNK_POINTS + 1])))
    box = (min(lons), min(lats), max(lons), max(lats))
    return Country(tuple(rings), box, tuple(chunks))


def _chunk(vectors: tuple[Vector, ...]) -> Chunk:
    sx, sy, sz = (sum(v[i] for v in vectors) for i in range(3))
    norm = math.sqrt(sx * sx + sy * sy + sz * sz) or 1.0
    centre = (sx / norm, sy / norm, sz / norm)
    return Chunk(centre, max(_angle(centre, v) for v in vectors), vectors)


def unit_vector(latitude: float, longitude: float) -> Vector:
    lat, lon = math.radians(latitude), math.radians(longitude)
    return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))


def great_circle_km(a: Point, b: Point) -> float:
    return _angle(unit_vector(a.latitude, a.longitude), unit_vector(b.latitude, b.longitude)) * (
        EARTH_RADIUS_KM
    )


def _angle(u: Vector, v: Vector) -> float:
    # atan2 of |u x v| and u.v: accurate at every angle, unlike acos of the dot product.
    cx, cy, cz = u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]
    dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2]
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), dot)


@lru_cache(maxsize=64)
def distances_from(point: Point) -> Mapping[str, float]:
    """Kilometres from ``point`` to every country of the outlines (0 inside it)."""
    p = unit_vector(point.latitude, point.longitude)
    result = {}
    for code, country in outlines().countries.items():
        if _inside(point, country):
            result[code] = 0.0
        else:
            result[code] = _country_angle(p, country.chunks) * EARTH_RADIUS_KM
    return result


def _country_angle(p: Vector, chunks: tuple[Chunk, ...]) -> float:
    """The smallest angle from p to the country's edges: nearest caps first, stopping once a
    cap's bound is beyond the best edge found."""
    bounded = sorted((max(0.0, _angle(p, c.centre) - c.radius), i) for i, c in enumerate(chunks))
    best = math.pi
    for bound, index in bounded:
        if bound >= best:
            break
        best = min(best, _run_angle(p, chunks[index].vectors))
    return best


def countries_within(point: Point, radius_km: float) -> frozenset[str]:
    """Every country some part of which lies within ``radius_km`` of ``point``."""
    return frozenset(c for c, d in distances_from(point).items() if d <= radius_km)


def _inside(point: Point, country: Country) -> bool:
    """Even-odd rule over all rings (holes included), in the longitude/latitude plane; the
    outlines are cut at the antimeridian, so no ring wraps around it."""
    x, y = point.longitude, point.latitude
    west, south, east, north = country.box
    if not (west <= x <= east and south <= y <= north):
        return False
    inside = False
    for pts in country.rings:
        j = len(pts) - 1
        for i in range(len(pts)):
            xi, yi = pts[i]
            xj, yj = pts[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
    return inside


def _run_angle(p: Vector, vectors: tuple[Vector, ...]) -> float:
    """The smallest angle from p to any edge of a run of points (each a great-circle arc)."""
    px, py, pz = p
    best = math.pi
    ax, ay, az = vectors[0]
    for bx, by, bz in vectors[1:]:
        best = min(best, _edge_angle(px, py, pz, ax, ay, az, bx, by, bz))
        ax, ay, az = bx, by, bz
    return best


def _edge_angle(  # noqa: PLR0917 - unpacked vectors: this runs once per edge per vantage
    px: float, py: float, pz: float,
    ax: float, ay: float, az: float,
    bx: float, by: float, bz: float,
) -> float:  # fmt: skip
    nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx  # normal of the arc
    norm = math.sqrt(nx * nx + ny * ny + nz * nz)
    if norm > 1e-12:
        # The foot of p on the arc's great circle lies within the arc when p is past a towards
        # b ((n x a).p >= 0) and before b coming from a ((b x n).p >= 0).
        past_a = (ny * az - nz * ay) * px + (nz * ax - nx * az) * py + (nx * ay - ny * ax) * pz
        before_b = (by * nz - bz * ny) * px + (bz * nx - bx * nz) * py + (bx * ny - by * nx) * pz
        if past_a >= 0 and before_b >= 0:
            return math.asin(min(1.0, abs(px * nx + py * ny + pz * nz) / norm))
    return min(_angle((px, py, pz), (ax, ay, az)), _angle((px, py, pz), (bx, by, bz)))


def main_centre(code: str) -> tuple[Point, float] | None:
    """A country's largest outline: the middle of its box and the farthest point from it, km.

    Used when a vantage is only known to be somewhere in a country: the disk covers that
    landmass (overseas parts are left out; a city or lat,lon is more exact)."""
    country = outlines().countries.get(code)
    if country is None:
        return None
    largest = max(country.rings, key=_box_area)
    lons = [lon for lon, _ in largest]
    lats = [lat for _, lat in largest]
    centre = Point((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
    c = unit_vector(centre.latitude, centre.longitude)
    reach = max(_angle(c, unit_vector(lat, lon)) for lon, lat in largest) * EARTH_RADIUS_KM
    return centre, reach


def _box_area(points: tuple[tuple[float, float], ...]) -> float:
    lons = [lon for lon, _ in points]
    lats = [lat for _, lat in points]
    return (max(lons) - min(lons)) * (max(lats) - min(lats))
