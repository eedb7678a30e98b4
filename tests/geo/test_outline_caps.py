"""The shipped caps (data/countries.caps) are the outlines' own: read instead of computed, they
give the same boxes, caps and distances, and caps made for other outlines are not used."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from importlib import resources
from pathlib import Path

from auditor.geo import geometry
from auditor.geo.geometry import CAPS_FILE, GEOMETRY_FILE, Point, outlines_of, unit_vector

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = resources.files("auditor") / "data"


def test_shipped_caps_are_the_computed_ones() -> None:
    packed = (DATA / GEOMETRY_FILE).read_bytes()
    shipped = outlines_of(packed, (DATA / CAPS_FILE).read_bytes())
    computed = outlines_of(packed)
    assert shipped.countries.keys() == computed.countries.keys()
    for code, country in shipped.countries.items():
        other = computed.countries[code]
        # The same arithmetic on another C library may differ in the last bit: a cap only
        # prunes the search, so distances stay exact either way.
        pairs = zip(country.box, other.box, strict=True)
        assert all(math.isclose(a, b, abs_tol=1e-12) for a, b in pairs), code
        assert len(country.caps) == len(other.caps) == len(country.chunk_starts), code
        for cap, same in zip(country.caps, other.caps, strict=True):
            assert math.isclose(cap.radius, same.radius, abs_tol=1e-12)
            assert all(math.isclose(a, b, abs_tol=1e-12)
                       for a, b in zip(cap.centre, same.centre, strict=True))  # fmt: skip
    rng = random.Random(15)  # noqa: S311 - test points
    for _ in range(6):
        p = unit_vector(rng.uniform(-80, 80), rng.uniform(-179, 179))
        for code in ("IT", "US", "NO", "SG", "CL", "ID"):
            assert geometry._country_angle(p, shipped.countries[code]) == (
                geometry._country_angle(p, computed.countries[code])
            )


def test_caps_of_other_outlines_are_not_used() -> None:
    packed = (DATA / GEOMETRY_FILE).read_bytes()
    caps = (DATA / CAPS_FILE).read_bytes()
    assert geometry._read_caps(caps, packed) is not None
    assert geometry._read_caps(caps, packed + b"\0") is None
    assert geometry._read_caps(b"", packed) is None


def test_a_chunk_covers_its_points_and_the_closing_edge() -> None:
    # A triangle and a ring longer than one chunk: every edge, the closing one included,
    # lies in exactly one chunk.
    packed_rings = ([0, 0, 1000, 0, 0, 1000], [0, 0, *([10, 1] * 30)])
    country = geometry.Country(packed_rings, 1000.0, (0, 0, 1, 1), ())
    assert country.chunk_starts == ((0, 0), (1, 0), (1, 24))
    triangle = country.vectors(0)
    assert triangle[0] == triangle[-1] == unit_vector(0.0, 0.0)
    assert len(triangle) == 4
    assert len(country.vectors(1)) == 25
    last = country.vectors(2)
    assert last[0] == country.vectors(1)[-1]
    assert last[-1] == unit_vector(0.0, 0.0)  # back to the ring's first point
    assert len(last) == 31 - 24 + 1


def test_the_build_script_writes_what_is_shipped() -> None:
    script = ROOT / "scripts" / "build_outline_caps.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()


def test_distances_from_a_point_inside() -> None:
    assert geometry.distances_from(Point(41.9, 12.5))["IT"] == 0.0


def test_each_chunk_decodes_the_points_of_its_whole_ring() -> None:
    packed = (DATA / GEOMETRY_FILE).read_bytes()
    for code, country in outlines_of(packed, (DATA / CAPS_FILE).read_bytes()).countries.items():
        expected = []
        for ring in country.rings:
            closed = [*ring, ring[0]]
            expected += [closed[start : start + geometry.CHUNK_POINTS + 1]
                         for start in range(0, len(ring), geometry.CHUNK_POINTS)]  # fmt: skip
        assert len(expected) == len(country.caps), code
        for chunk, points in enumerate(expected):
            assert country.vectors(chunk) == tuple(unit_vector(lat, lon) for lon, lat in points)
