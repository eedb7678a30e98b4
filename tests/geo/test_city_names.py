"""City names for --vantage from DB-IP's data: built by scripts/build_places.py from the bundled
city database, and parsed with their own uncertainty."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import geoip2.database
import pytest

from auditor.geo.places import places_named
from auditor.geo.vantage import CITY_RADIUS_KM, VantageError, parse_vantage
from auditor.model import VantagePlace, VantageSource
from tests.geo.conftest import MakeDb
from tests.geo.test_evidence import SE_SERVER, handshakes
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent.parent


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _dbip(city: str, code: str, latitude: float, longitude: float) -> dict[str, object]:
    return {"country_code": code, "latitude": latitude, "longitude": longitude, "city": city}


def test_places_are_built_from_the_city_database_records(make_db: MakeDb, tmp_path: Path) -> None:
    """DB-IP-shaped sources -> the bundled city layout -> one place per name and country."""
    build, places = _script("build_default_db"), _script("build_places")
    v4 = make_db("DBIP-City-Lite", {
        "1.0.0.0/24": _dbip("Uppsala", "SE", 59.8586, 17.6389),
        "1.0.1.0/24": _dbip("Uppsala", "SE", 59.85, 17.64),  # a second point, 1 km away
        "1.0.2.0/24": _dbip("Springfield", "US", 39.80, -89.65),  # Illinois
        "1.0.3.0/24": _dbip("Springfield", "US", 37.21, -93.29),  # Missouri
        "1.0.4.0/24": _dbip("Springfield", "AU", -27.65, 152.92),
    }, ip_version=4)  # fmt: skip
    v6 = make_db("DBIP-City-Lite", {"2a02:d180::/29": _dbip("Berlin", "DE", 52.52, 13.40)})
    city = tmp_path / "city.mmdb"
    build.build_city([Path(v4), Path(v6)], city)
    with geoip2.database.Reader(str(city)) as reader:
        uppsala, berlin = reader.city("1.0.1.9"), reader.city("2a02:d180::1")
    assert (uppsala.country.iso_code, uppsala.city.name) == ("SE", "Uppsala")
    assert uppsala.location.latitude == pytest.approx(59.85, abs=1e-5)
    # IPv6: DB-IP's country only (the point and name are not bundled: see NOTICE).
    assert (berlin.country.iso_code, berlin.location.latitude, berlin.city.name) == (
        "DE", None, None
    )
    rows = places.reduce_places(places.city_points(city))
    by_key = {(code, name): (lat, lon, spread) for code, name, lat, lon, spread in rows}
    assert set(by_key) == {("SE", "Uppsala"), ("US", "Springfield"), ("AU", "Springfield")}
    lat, lon, spread = by_key[("SE", "Uppsala")]
    assert (round(lat / 1000, 1), round(lon / 1000, 1), spread) == (59.9, 17.6, 1)
    assert by_key[("US", "Springfield")][2] > 150  # two towns 400 km apart: a wide spread
    assert by_key[("AU", "Springfield")][2] == 0


def test_a_site_city_keeps_the_curated_point() -> None:
    vantage = parse_vantage("Stockholm")
    assert (vantage.place, vantage.radius_km) == (VantagePlace.SITE, CITY_RADIUS_KM)


def test_a_dbip_city_carries_its_spread_and_says_where_it_came_from() -> None:
    (uppsala,) = places_named("Uppsala", "SE")
    vantage = parse_vantage("uppsala", VantageSource.POLICY)
    assert vantage.place is VantagePlace.DBIP_CITY
    assert vantage.source is VantageSource.POLICY
    assert vantage.label == "Uppsala, SE"
    assert vantage.radius_km == CITY_RADIUS_KM + uppsala.spread_km
    assert abs(vantage.latitude - 59.86) < 0.3
    assert abs(vantage.longitude - 17.64) < 0.3


def test_a_name_of_several_places_is_refused() -> None:
    with pytest.raises(VantageError, match=r"is a city in .*US"):
        parse_vantage("Springfield")
    with pytest.raises(VantageError, match="km apart: give lat,lon"):
        parse_vantage("Springfield, US")


def test_the_report_says_where_the_vantage_came_from(tmp_path: Path, shared_data: Path) -> None:
    """A 3 ms handshake seen from Uppsala: the bound's vantage names its source and place."""
    capture = tmp_path / "uppsala.pcap"
    capture.write_bytes(handshakes([(SE_SERVER, 1.0, 0.003)]))
    city = str(shared_data / "mmdb" / "test-data" / "GeoIP2-City-Test.mmdb")
    status, out, err = run([str(capture), "--db", city, "--allow", "EU", "--vantage", "Uppsala",
                            "--format", "json"])  # fmt: skip
    assert status == 0, err
    endpoint = next(e for e in json.loads(out)["endpoints"] if e["ip"] == SE_SERVER)
    (bound,) = endpoint["evidence"]["bounds"]
    vantage = bound["vantage"]
    assert (vantage["source"], vantage["place"], vantage["label"]) == (
        "given", "dbip-city", "Uppsala, SE"
    )
    assert vantage["radius_km"] > CITY_RADIUS_KM
