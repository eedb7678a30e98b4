"""Build auditor/data/places.json.gz, the city names --vantage understands beyond the hint sites.

    python scripts/build_places.py        # from auditor/data/auditor-city.mmdb (bundled)

Source: the bundled DB-IP IP to City Lite database (CC BY 4.0, built by build_default_db.py from
a pinned, checksummed package). Every distinct (country, city name, point) record in it is read
straight from the file's data section (the records, not the 15 million networks), and the points
a city name has within one country are reduced to one centre and a spread: the farthest of that
name's points from the centre. DB-IP's state names were dropped from the bundled file, so a name
shared by towns far apart (Springfield, US) shows as a large spread; the vantage parser refuses
such a name rather than pretend it is one place. Reproducible: sorted output, gzip without a time.

Output: {"source", "licence", "unit", "places": [[country, name, lat, lon, spread_km], ...]},
latitude and longitude in thousandths of a degree, spread in whole km (rounded up).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import maxminddb
from maxminddb.decoder import Decoder
from mmdb_writer import METADATA_MAGIC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.geo import bundled  # noqa: E402 - importable once ROOT is on the path
from auditor.geo.geometry import Point, great_circle_km, unit_vector  # noqa: E402

SOURCE = ROOT / "auditor" / "data" / bundled.CITY_FILE
TARGET = ROOT / "auditor" / "data" / "places.json.gz"
NOTICE = ROOT / "auditor" / "data" / "places.NOTICE"
UNIT = 1000
_DATA_SEPARATOR = 16


def main(argv: Sequence[str] | None = None) -> int:
    source = Path(argv[0]) if argv else SOURCE
    points = city_points(source)
    places = reduce_places(points)
    write_places(TARGET, places, source)
    digest = hashlib.sha256(TARGET.read_bytes()).hexdigest()
    NOTICE.write_text(_notice(source, len(places), TARGET.stat().st_size, digest), "utf-8")
    print(f"{TARGET}: {len(places)} places, {TARGET.stat().st_size} bytes, sha256 {digest}")
    return 0


def data_records(path: Path) -> Iterator[object]:
    """Every value in an mmdb file's data section, in file order (nested values included)."""
    buffer = path.read_bytes()
    with maxminddb.open_database(str(path)) as reader:
        meta = reader.metadata()
        tree_size = meta.node_count * meta.record_size * 2 // 8
    start = tree_size + _DATA_SEPARATOR
    end = buffer.rfind(METADATA_MAGIC)
    decoder = Decoder(buffer, pointer_base=start)
    offset = start
    while offset < end:
        value, offset = decoder.decode(offset)
        yield value


def city_points(path: Path) -> dict[tuple[str, str], set[tuple[float, float]]]:
    """(country, city name) -> the distinct points the database gives that name."""
    points: dict[tuple[str, str], set[tuple[float, float]]] = defaultdict(set)
    for value in data_records(path):
        if not isinstance(value, dict) or "location" not in value or "city" not in value:
            continue  # a nested value, or a record without a city name
        code = value["country"]["iso_code"]
        name = value["city"]["names"]["en"]
        location = value["location"]
        points[(code, name)].add((float(location["latitude"]), float(location["longitude"])))
    return points


def reduce_places(
    points: dict[tuple[str, str], set[tuple[float, float]]],
) -> list[tuple[str, str, int, int, int]]:
    """One row per name and country: the centre of its points, and their farthest from it."""
    rows = []
    for (code, name), found in sorted(points.items()):
        centre = _centre(sorted(found))
        spread = max(_km(centre, p) for p in found)
        lat, lon = centre
        rows.append((code, name, round(lat * UNIT), round(lon * UNIT), math.ceil(spread)))
    return rows


def _centre(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    vectors = [unit_vector(lat, lon) for lat, lon in points]
    x, y, z = (sum(v[i] for v in vectors) for i in range(3))
    norm = math.sqrt(x * x + y * y + z * z)
    if norm < 1e-9:  # antipodal points: any of them is as good a centre
        return points[0]
    return math.degrees(math.asin(z / norm)), math.degrees(math.atan2(y, x))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return great_circle_km(Point(*a), Point(*b))


def write_places(target: Path, places: list[tuple[str, str, int, int, int]], source: Path) -> None:
    data = {
        "source": f"{source.name}: DB-IP IP to City Lite (via ip-location-db), city names",
        "licence": "CC BY 4.0; " + bundled.CITY_ATTRIBUTION,
        "unit": UNIT,
        "places": [list(row) for row in places],
    }
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as handle:
        handle.write(raw)
    target.write_bytes(buffer.getvalue())


def _notice(source: Path, count: int, size: int, digest: str) -> str:
    return (
        "auditor bundled city names\n"
        "==========================\n\n"
        f"places.json.gz is built by scripts/build_places.py from {source.name} (see NOTICE:\n"
        "DB-IP IP to City Lite, CC BY 4.0, from a pinned npm package with its integrity).\n"
        f"{bundled.CITY_ATTRIBUTION}\n\n"
        f"{count} (country, city name) places; size: {size} bytes; sha256: {digest}\n\n"
        "Changes made (CC BY 4.0 asks that they be indicated): the points DB-IP gives one city\n"
        "name in one country are reduced to their centre on the sphere and the distance from it\n"
        "to the farthest of them (spread, km, rounded up); coordinates rounded to 0.001 degree.\n"
        "Used only to place a --vantage given as a city name.\n"
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
