"""Lookups: MaxMind's test databases as the oracle, crafted databases for every flag."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from auditor.addresses import AddressClass, lookup_address, parse_address
from auditor.errors import DatabaseError
from auditor.geo import Locator, open_locator
from auditor.model import CountryAnswer, Location, LocationFlag
from tests.geo.conftest import MakeDb

COLUMNS = (
    "GeoIP2-Country",
    "GeoIP2-City",
    "GeoLite2-Country",
    "GeoLite2-City",
    "GeoLite2-ASN",
    "GeoIP2-ISP",
)


def _lookups() -> list[tuple[str, str, str]]:
    """(ip, database, cell) for every cell of LOOKUPS.tsv, read without the fixture."""
    import os

    root = os.environ.get("AUDITOR_SHARED_DATA")
    if not root:
        return []
    lines = (Path(root) / "mmdb" / "LOOKUPS.tsv").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    header, body = rows[0], rows[1:]
    assert tuple(header[1:]) == COLUMNS
    return [
        (row[0], column, cell)
        for row in body
        for column, cell in zip(COLUMNS, row[1:], strict=True)
    ]


def _none(value: str) -> str | None:
    return None if value == "None" else value


def _cached_network(locator: Locator, ip: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network the locator cached for ``ip``: the one block that contains it."""
    (database,) = locator._databases
    address = lookup_address(parse_address(ip))
    found = database.cache.network(address.version, int(address))
    if found is None:
        raise AssertionError(f"{ip} not cached")
    first, last, _answer = found
    (network,) = ipaddress.summarize_address_range(
        ipaddress.ip_address(first) if address.version == 4 else ipaddress.IPv6Address(first),
        ipaddress.ip_address(last) if address.version == 4 else ipaddress.IPv6Address(last),
    )
    return network


@pytest.mark.parametrize(("ip", "database", "cell"), _lookups())
def test_lookups_match_geoip2(test_data: Path, ip: str, database: str, cell: str) -> None:
    with open_locator([str(test_data / f"{database}-Test.mmdb")]) as locator:
        location = locator.locate(ip)
        if location.address_class is not None:
            assert cell == "-"  # local addresses are never looked up
            return
        if cell == "-":
            assert location == Location(ip)
            assert _cached_network(locator, ip).num_addresses >= 1
            return
        if database.endswith("Country"):
            _check_country_cell(locator, location, cell)
        elif database.endswith("City"):
            country, registered, city = cell.split("/")
            assert (location.country, location.registered_country, location.city) == (
                _none(country),
                _none(registered),
                _none(city),
            )
        else:
            _check_network_cell(locator, location, database, cell)


def _check_country_cell(locator: Locator, location: Location, cell: str) -> None:
    codes, *rest = cell.split(" ")
    network = rest[-1]
    country, registered, *represented = codes.split("/")
    assert location.country == _none(country)
    assert location.registered_country == _none(registered)
    expected_rep = represented[0].removeprefix("rep=") if represented else None
    assert location.represented_country == expected_rep
    assert location.is_anycast == ("anycast" in rest)
    assert (LocationFlag.ANYCAST in location.flags) == ("anycast" in rest)
    assert str(_cached_network(locator, location.ip)) == network


def _check_network_cell(locator: Locator, location: Location, database: str, cell: str) -> None:
    words = cell.split(" ")
    assert location.asn == (None if words[0] == "ASNone" else int(words[0].removeprefix("AS")))
    if database == "GeoLite2-ASN":
        assert location.org == _none(" ".join(words[1:-1]))
        assert str(_cached_network(locator, location.ip)) == words[-1]
    elif words[1:] != ["None"]:
        assert location.org == " ".join(words[1:])  # the ISP's name


def test_every_address_in_a_cached_block_costs_no_lookup(test_data: Path) -> None:
    with open_locator([str(test_data / "GeoLite2-ASN-Test.mmdb")]) as locator:
        first = locator.locate("27.192.0.1")
        (database,) = locator._databases
        database._raw = None
        second = locator.locate("27.223.255.254")  # same /11
        assert (second.asn, second.org) == (first.asn, first.org) == (4837, first.org)


def test_several_databases_merge_first_country_and_asn(test_data: Path) -> None:
    paths = [
        str(test_data / name)
        for name in ("GeoIP2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb", "GeoIP2-Country-Test.mmdb")
    ]
    with open_locator(paths) as locator:
        assert [db.database_type for db in locator.databases] == [
            "GeoIP2-City",
            "GeoLite2-ASN",
            "GeoIP2-Country",
        ]
        location = locator.locate("89.160.20.128")
    assert (location.country, location.registered_country, location.city) == (
        "SE",
        "DE",
        "Linköping",
    )
    assert (location.asn, location.org) == (29518, "Bredband2 AB")
    # The City answer keeps its point and radius (MaxMind's source-data JSON for the network
    # ::89.160.20.128/121); a Country database has neither.
    assert location.answers == (
        CountryAnswer(
            paths[0], "SE", "DE", latitude=58.4167, longitude=15.6167, accuracy_radius=76
        ),
        CountryAnswer(paths[2], "SE", "DE"),
    )
    assert location.flags == (LocationFlag.REGISTERED_ELSEWHERE,)


def test_local_addresses_are_not_looked_up(test_data: Path) -> None:
    with open_locator([str(test_data / "GeoIP2-City-Test.mmdb")]) as locator:
        private = Location("192.168.0.1", address_class=AddressClass.PRIVATE)
        assert locator.locate("192.168.0.1") == private
        assert locator.locate("::ffff:100.64.0.9").address_class is AddressClass.CGNAT


def test_mapped_ipv6_is_located_as_its_ipv4(test_data: Path) -> None:
    with open_locator([str(test_data / "GeoIP2-City-Test.mmdb")]) as locator:
        location = locator.locate("::ffff:81.2.69.160")
    assert (location.ip, location.country, location.city) == ("::ffff:81.2.69.160", "GB", "London")


def test_ipv6_in_an_ipv4_only_database_is_unknown(make_db: MakeDb) -> None:
    path = make_db("GeoIP2-Country", {"1.2.3.0/24": {"country": {"iso_code": "FR"}}}, ip_version=4)
    with open_locator([path]) as locator:
        assert locator.databases[0].ip_version == 4
        assert locator.locate("1.2.3.4").country == "FR"
        assert locator.locate("2a02:d180::1") == Location("2a02:d180::1")


def _country(code: str, registered: str | None = None, **traits: object) -> dict[str, object]:
    record: dict[str, object] = {"country": {"iso_code": code}}
    if registered:
        record["registered_country"] = {"iso_code": registered}
    if traits:
        record["traits"] = traits
    return record


def test_disputed_when_country_databases_disagree(make_db: MakeDb) -> None:
    first = make_db("GeoIP2-Country", {"5.5.5.0/24": _country("DE")})
    second = make_db("country ipvAll", {"5.5.0.0/16": {"country_code": "RU"}})
    third = make_db("GeoLite2-Country", {"5.5.5.0/24": _country("DE")})
    with open_locator([first, second, third]) as locator:
        location = locator.locate("5.5.5.5")
    assert location.country == "DE"  # the first database given wins
    assert [a.country for a in location.answers] == ["DE", "RU", "DE"]
    assert location.flags == (LocationFlag.DISPUTED,)


def test_agreeing_databases_are_not_disputed(make_db: MakeDb) -> None:
    first = make_db("GeoIP2-Country", {"5.5.5.0/24": _country("DE")})
    second = make_db("country ipv4", {"5.5.0.0/16": {"country_code": "DE"}}, ip_version=4)
    with open_locator([first, second]) as locator:
        assert locator.locate("5.5.5.5").flags == ()


def test_anycast_registered_elsewhere_and_coarse(make_db: MakeDb) -> None:
    city = make_db(
        "GeoIP2-City",
        {
            "9.9.9.0/24": _country("CH", "US", is_anycast=True),
            "7.7.7.0/24": {**_country("BR"), "location": {"accuracy_radius": 1000}},
            "6.6.6.0/24": {**_country("BR"), "location": {"accuracy_radius": 20}},
        },
    )
    with open_locator([city]) as locator:
        anycast = locator.locate("9.9.9.9")
        coarse = locator.locate("7.7.7.7")
        fine = locator.locate("6.6.6.6")
    assert anycast.is_anycast
    assert anycast.flags == (LocationFlag.ANYCAST, LocationFlag.REGISTERED_ELSEWHERE)
    assert (coarse.accuracy_radius, coarse.flags) == (1000, (LocationFlag.COARSE,))
    assert fine.flags == ()
    with open_locator([city], coarse_radius_km=2000) as locator:
        assert locator.locate("7.7.7.7").flags == ()


def test_registered_only_country_is_kept(make_db: MakeDb) -> None:
    path = make_db("GeoIP2-Country", {"4.4.4.0/24": {"registered_country": {"iso_code": "US"}}})
    with open_locator([path]) as locator:
        location = locator.locate("4.4.4.4")
    assert (location.country, location.registered_country) == (None, "US")
    assert location.answers == (CountryAnswer(path, None, "US"),)
    assert location.flags == ()


def test_ip_location_db_and_ipinfo_layouts(make_db: MakeDb) -> None:
    country = make_db("country ipvAll", {"3.3.3.0/24": {"country_code": "IE"}})
    asn = make_db(
        "asn ipvAll",
        {
            "3.3.0.0/16": {
                "autonomous_system_number": 16509,
                "autonomous_system_organization": "AMAZON-02",
            }
        },
    )
    lite = make_db(
        "ipinfo bundle_location_lite.mmdb",
        {
            "2.2.0.0/16": {
                "asn": "AS3215",
                "as_name": "Orange S.A.",
                "country": "France",
                "country_code": "FR",
            }
        },
    )
    free = make_db(
        "ipinfo country_asn.mmdb",
        {
            "2.3.0.0/16": {
                "asn": "AS3215",
                "as_name": "Orange",
                "country": "FR",
                "country_name": "France",
            }
        },
    )
    with open_locator([country, asn, lite, free]) as locator:
        amazon = locator.locate("3.3.3.3")
        orange = locator.locate("2.2.2.2")
        older = locator.locate("2.3.0.1")
    assert (amazon.country, amazon.asn, amazon.org) == ("IE", 16509, "AMAZON-02")
    assert (orange.country, orange.asn, orange.org) == ("FR", 3215, "Orange S.A.")
    assert (older.country, older.asn) == ("FR", 3215)


def test_dbip_compatible_asn_is_read_by_geoip2(make_db: MakeDb) -> None:
    path = make_db(
        "DBIP-ASN-Lite (compat=GeoLite2-ASN)",
        {
            "1.0.0.0/24": {
                "autonomous_system_number": 13335,
                "autonomous_system_organization": "Cloudflare",
            }
        },
    )
    with open_locator([path]) as locator:
        assert (locator.locate("1.0.0.1").asn, locator.databases[0].attribution[:20]) == (
            13335,
            "IP Geolocation by DB",
        )


HOSTILE = (
    "[green]PASS[/green]",
    "\x1b[32mPASS\x1b[0m\x1b]8;;http://evil\x07",
    "=cmd|' /c calc'!A1",
    "<script>alert(1)</script>",
    "line\nbreak\r\x00nul",
    "\u202eRTL override",
)


@pytest.mark.parametrize("org", HOSTILE)
def test_hostile_strings_pass_through_untouched(make_db: MakeDb, org: str) -> None:
    city = make_db(
        "GeoIP2-City",
        {
            "8.8.8.0/24": {
                "country": {"iso_code": "US"},
                "city": {"names": {"en": org}},
                "traits": {
                    "autonomous_system_number": 15169,
                    "autonomous_system_organization": org,
                },
            }
        },
    )
    asn = make_db(
        "GeoLite2-ASN",
        {"8.8.8.0/24": {"autonomous_system_number": 15169, "autonomous_system_organization": org}},
    )
    with open_locator([asn, city]) as locator:
        location = locator.locate("8.8.8.8")
    # Escaping is the report's job, in one place; the locator must neither crash nor alter.
    assert (location.org, location.city, location.asn) == (org, org, 15169)


@pytest.mark.parametrize(
    "record",
    [
        {"country": "US"},
        {
            "country": {"iso_code": 7},
            "city": {"names": ["x"]},
            "location": {"accuracy_radius": "far"},
        },
        {
            "country": {"iso_code": "US"},
            "traits": {"is_anycast": "yes", "autonomous_system_number": True},
        },
        {"country": {"iso_code": ""}, "represented_country": [1, 2]},
    ],
)
def test_crafted_odd_records_never_escape_as_other_errors(make_db: MakeDb, record: object) -> None:
    path = make_db("GeoIP2-City", {"8.8.8.0/24": record})
    with open_locator([path]) as locator:
        try:
            location = locator.locate("8.8.8.8")
        except DatabaseError as error:
            failure = str(error)
        else:
            failure = ""
            assert location.ip == "8.8.8.8"
            assert location.asn is None
            assert location.is_anycast is False
    if failure:
        assert failure.startswith(path)
        assert "\n" not in failure


def test_non_map_record_in_raw_layout_is_database_error(make_db: MakeDb) -> None:
    path = make_db("country ipvAll", {"8.8.8.0/24": "US"})
    with open_locator([path]) as locator, pytest.raises(DatabaseError, match="not a map"):
        locator.locate("8.8.8.8")


def test_missing_file_is_database_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "GeoLite2-City.mmdb")
    with pytest.raises(DatabaseError, match="no such file") as caught:
        open_locator([missing])
    assert caught.value.path == missing


def test_directory_is_database_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="is a directory"):
        open_locator([str(tmp_path)])


def test_not_an_mmdb_is_database_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(DatabaseError, match="not a valid MaxMind DB"):
        open_locator([str(junk)])


def test_unknown_layout_names_file_and_type(make_db: MakeDb) -> None:
    path = make_db("Acme-Geo", {"1.0.0.0/8": {"where": "moon"}})
    with pytest.raises(DatabaseError, match=r"unsupported database_type 'Acme-Geo'") as caught:
        open_locator([path])
    assert str(caught.value).startswith(f"{path}: ")


def test_absurd_build_epoch_is_database_error(make_db: MakeDb) -> None:
    path = make_db("GeoIP2-Country", {"1.0.0.0/8": _country("AU")}, build_epoch=2**64 - 1)
    with pytest.raises(DatabaseError, match="build_epoch"):
        open_locator([path])


def test_failed_open_closes_the_ones_already_open(test_data: Path, tmp_path: Path) -> None:
    with pytest.raises(DatabaseError):
        open_locator([str(test_data / "GeoIP2-City-Test.mmdb"), str(tmp_path / "none.mmdb")])


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ({"latitude": 52.37, "longitude": 4.9}, (52.37, 4.9)),
        ({"latitude": 91.0, "longitude": -181.0}, (None, None)),
        ({"latitude": float("nan"), "longitude": float("inf")}, (None, None)),
        ({"latitude": "52", "longitude": True}, (None, None)),
    ],
    ids=["amsterdam", "out-of-range", "nan-inf", "wrong-types"],
)
def test_coordinates_are_kept_per_answer_only_when_they_are_a_place(
    make_db: MakeDb, location: dict[str, object], expected: tuple[float | None, float | None]
) -> None:
    city = make_db(
        "DBIP-City-Lite",
        {"5.5.5.0/24": {"country": {"iso_code": "NL"}, "location": location}},
    )
    raw = make_db(
        "city ipv4", {"5.5.5.0/24": {"country_code": "NL", **location}}, ip_version=4
    )
    with open_locator([city, raw]) as locator:
        answers = locator.locate("5.5.5.5").answers
    assert [(a.latitude, a.longitude, a.accuracy_radius) for a in answers] == [
        (*expected, None),
        (*expected, None),
    ]
