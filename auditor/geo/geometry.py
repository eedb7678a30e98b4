"""Country outlines (Natural Earth 1:50m, bundled) and distances on the sphere to them.

Distances are great-circle kilometres on a sphere of the Earth's mean radius, from a point to the
nearest point of a country's outline (its land border or coast), or 0 when the point is inside.
They are exact for the outlines as drawn; the outlines themselves are generalised at 1:50m, which
moves a coast by up to a few kilometres, so callers add OUTLINE_MARGIN_KM before refuting.

Every run with a round trip to weigh needs them, so loading is kept cheap: each country's box
and its chunks' caps (100k points as unit vectors, 5k caps: ~0.2 CPU s to compute) are read
from data/countries.caps, which scripts/build_outline_caps.py computes with this module from
countries.json.gz (tied to it by SHA-256; a caps file that does not match is ignored and the
caps computed). A ring's points and a chunk's vectors are made on first use: a distance looks
at the few chunks whose cap can hold the nearest edge.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from itertools import accumulate

EARTH_RADIUS_KM = 6371.0088
OUTLINE_MARGIN_KM = 10.0  # generalisation of the 1:50m outlines and 0.001-degree rounding
GEOMETRY_FILE = "countries.json.gz"
CAPS_FILE = "countries.caps"
_CAPS_MAGIC = b"auditor-caps/1\n\0"
_DOUBLE = struct.Struct("<d")

Vector = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0):
            raise ValueError(f"not a place on Earth: {self.latitude}, {self.longitude}")


@dataclass(frozen=True, slots=True)
class Cap:
    """The spherical cap holding a run of consecutive outline points (a chunk): it bounds every
    edge of the run from below, so far chunks are skipped without a look."""

    centre: Vector
    radius: float  # radians


Ring = tuple[tuple[float, float], ...]  # (longitude, latitude) points


@dataclass(frozen=True)
class Country:
    """Chunk i covers the points (closed ring, CHUNK_POINTS edges each) that chunk_starts[i]
    names: its ring and first point."""

    flat: tuple[Sequence[int], ...]  # the rings as stored: see _ring
    unit: float
    box: tuple[float, float, float, float]  # west, south, east, north
    caps: tuple[Cap, ...]

    @cached_property
    def rings(self) -> tuple[Ring, ...]:
        return tuple(self.ring(index) for index in range(len(self.flat)))

    @cached_property
    def _rings(self) -> dict[int, Ring]:
        return {}

    def ring(self, index: int) -> Ring:
        """One ring's points: a distance needs the rings of the chunks it looks at only."""
        found = self._rings.get(index)
        if found is None:
            found = self._rings[index] = _ring(self.flat[index], self.unit)
        return found

    @cached_property
    def chunk_starts(self) -> tuple[tuple[int, int], ...]:
        return tuple(_chunk_starts(self.flat))

    @cached_property
    def _vectors(self) -> dict[int, tuple[Vector, ...]]:
        return {}

    def vectors(self, chunk: int) -> tuple[Vector, ...]:
        """The unit vectors of a chunk's points, its last edge included."""
        found = self._vectors.get(chunk)
        if found is None:
            ring, start = self.chunk_starts[chunk]
            flat = self.flat[ring]
            # Only the chunk's points are decoded: a coast of 10k points is not, for 25.
            ends = [*_ring(flat, self.unit, start, CHUNK_POINTS + 1)]
            if start + CHUNK_POINTS >= len(flat) // 2:
                ends.append(_ring(flat, self.unit, 0, 1)[0])  # closed: back to the start
            found = tuple(unit_vector(lat, lon) for lon, lat in ends)
            self._vectors[chunk] = found
        return found


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
    folder = resources.files("auditor") / "data"
    packed = (folder / GEOMETRY_FILE).read_bytes()
    try:
        caps = (folder / CAPS_FILE).read_bytes()
    except FileNotFoundError:  # an install without it is slower, not wrong
        caps = b""
    return outlines_of(packed, caps)


def outlines_of(packed: bytes, caps: bytes = b"") -> Outlines:
    """The outlines of a countries.json.gz, with the boxes and caps of ``caps`` when that file
    was computed from these bytes, else computed here."""
    data = json.loads(gzip.decompress(packed))
    unit = float(data["unit"])
    stored = _read_caps(caps, packed)
    countries = {}
    for code, rings in data["countries"].items():
        flat = tuple(rings)
        box, chunk_caps = next(stored) if stored else _caps(flat, unit)
        countries[code] = Country(flat, unit, box, chunk_caps)
    return Outlines(str(data["source"]), str(data["licence"]), countries)


CHUNK_POINTS = 24


def _chunk_starts(flat: Sequence[Sequence[int]]) -> Iterator[tuple[int, int]]:
    for ring, points in enumerate(flat):
        yield from ((ring, start) for start in range(0, len(points) // 2, CHUNK_POINTS))


def _caps(
    flat: Sequence[Sequence[int]], unit: float
) -> tuple[tuple[float, float, float, float], tuple[Cap, ...]]:
    """A country's box and its chunks' caps, computed from its rings."""
    rings = [_ring(points, unit) for points in flat]
    lons = [lon for ring in rings for lon, _ in ring]
    lats = [lat for ring in rings for _, lat in ring]
    caps = []
    for ring in rings:
        vectors = [unit_vector(lat, lon) for lon, lat in ring]
        vectors.append(vectors[0])  # closed: the last edge returns to the start
        for start in range(0, len(vectors) - 1, CHUNK_POINTS):
            caps.append(_cap(vectors[start : start + CHUNK_POINTS + 1]))
    return (min(lons), min(lats), max(lons), max(lats)), tuple(caps)


def caps_file(packed: bytes) -> bytes:
    """The countries.caps for the countries.json.gz ``packed``: its SHA-256, then per country
    (in the file's order) its box, its number of chunks and each chunk's cap, as doubles."""
    data = json.loads(gzip.decompress(packed))
    unit = float(data["unit"])
    out = [_CAPS_MAGIC, hashlib.sha256(packed).digest()]
    for rings in data["countries"].values():
        box, caps = _caps(rings, unit)
        values = [*box, len(caps)] + [x for cap in caps for x in (*cap.centre, cap.radius)]
        out.append(struct.pack(f"<{len(values)}d", *values))
    return b"".join(out)


def _read_caps(
    caps: bytes, packed: bytes
) -> Iterator[tuple[tuple[float, float, float, float], tuple[Cap, ...]]] | None:
    """Each country's box and caps from a countries.caps made for ``packed``; None if not."""
    head = len(_CAPS_MAGIC) + 32
    if caps[: len(_CAPS_MAGIC)] != _CAPS_MAGIC or caps[len(_CAPS_MAGIC) : head] != (
        hashlib.sha256(packed).digest()
    ):
        return None
    values = struct.unpack_from(f"<{(len(caps) - head) // 8}d", caps, head)

    def countries() -> Iterator[tuple[tuple[float, float, float, float], tuple[Cap, ...]]]:
        at = 0
        while at < len(values):
            box = (values[at], values[at + 1], values[at + 2], values[at + 3])
            count = int(values[at + 4])
            at += 5
            yield box, tuple(
                Cap((values[i], values[i + 1], values[i + 2]), values[i + 3])
                for i in range(at, at + 4 * count, 4)
            )
            at += 4 * count

    return countries()


def _ring(flat: Sequence[int], unit: float, start: int = 0, count: int | None = None) -> Ring:
    """A ring stored as longitude, latitude integer pairs in 1/unit degree, the first absolute
    and the rest differences from the one before; or ``count`` of its points from ``start``
    (integer sums: the same floats as when the whole ring is decoded)."""
    end = len(flat) if count is None else min(len(flat), 2 * (start + count))
    xs = accumulate(flat[2 * start : end : 2], initial=sum(flat[0 : 2 * start : 2]))
    ys = accumulate(flat[2 * start + 1 : end : 2], initial=sum(flat[1 : 2 * start : 2]))
    next(xs), next(ys)  # the sums before the first point asked for
    return tuple((x / unit, y / unit) for x, y in zip(xs, ys, strict=True))


def _cap(vectors: Sequence[Vector]) -> Cap:
    sx, sy, sz = (sum(v[i] for v in vectors) for i in range(3))
    norm = math.sqrt(sx * sx + sy * sy + sz * sz) or 1.0
    centre = (sx / norm, sy / norm, sz / norm)
    return Cap(centre, max(_angle(centre, v) for v in vectors))


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
            result[code] = _country_angle(p, country) * EARTH_RADIUS_KM
    return result


def _country_angle(p: Vector, country: Country) -> float:
    """The smallest angle from p to the country's edges: nearest caps first, stopping once a
    cap's bound is beyond the best edge found."""
    bounded = sorted(
        (max(0.0, _angle(p, c.centre) - c.radius), i) for i, c in enumerate(country.caps)
    )
    best = math.pi
    for bound, index in bounded:
        if bound >= best:
            break
        best = min(best, _run_angle(p, country.vectors(index)))
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
