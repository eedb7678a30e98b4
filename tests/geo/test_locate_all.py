"""Locating many addresses at once (in address order, a network and a record met once; or
each tree walked, a record met once): every answer must be the one locate() gives each address
alone, in a fresh locator."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from unittest import mock

import mmdb_writer
import pytest

from auditor.errors import DatabaseError
from auditor.geo import bulk, open_locator
from auditor.model import Location
from tests.geo.conftest import MakeDb


@pytest.fixture(autouse=True, params=["by-network", "walked", "walked, grouped in Python"])
def _each_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here three times: each network asked, and each tree walked (where compiled),
    with the answers grouped by the compiled group (where built) and by its Python oracle."""
    walked = request.param.startswith("walked")
    if walked and bulk.walk is None:
        pytest.skip("this install has no compiled tree walk")
    monkeypatch.setattr(bulk, "_TREE_BYTES_PER_ADDRESS", 1 << 40 if walked else 0)
    if request.param.endswith("in Python"):
        monkeypatch.setattr(bulk, "group", bulk.group_in_python)


def _alone(paths: list[str], ips: list[str]) -> list[Location | str]:
    """Each address located by a locator of its own: no cache can lend it another's answer."""
    found: list[Location | str] = []
    for ip in ips:
        with open_locator(paths) as locator:
            try:
                found.append(locator.locate(ip))
            except DatabaseError as error:
                found.append(str(error))
    return found


def _together(paths: list[str], ips: list[str]) -> list[Location]:
    with open_locator(paths) as locator:
        return list(locator.locate_all(ips))


def _test_addresses() -> list[str]:
    """Addresses in and around the MaxMind test databases' networks, local ones, IPv6 and
    IPv4 in IPv6, in a shuffled order."""
    ips = [
        "81.2.69.142", "81.2.69.143", "81.2.69.160", "81.2.69.191", "81.2.69.192",
        "89.160.20.112", "89.160.20.128", "89.160.20.143", "89.160.21.1", "1.128.0.0",
        "1.1.1.1", "1.0.0.1", "202.196.224.0", "216.160.83.56", "175.16.199.0",
        "149.101.100.0", "2.125.160.216", "67.43.156.0", "12.81.92.0", "12.81.96.1",
        "10.0.0.1", "192.168.1.1", "127.0.0.1", "100.64.0.1", "224.0.0.251",
        "2001:218::1", "2001:218:ffff::1", "2001:480::1", "2a02:d180::1", "2c0f:ff40::1",
        "::ffff:81.2.69.160", "::ffff:81.2.69.161", "64:ff9b::5102:45a0", "fe80::1", "::1",
        "2001:db8::1", "8.8.8.8", "8.8.4.4",
    ]  # fmt: skip
    random.Random(15).shuffle(ips)  # noqa: S311 - an order, not a secret
    return ips


@pytest.mark.parametrize(
    "names",
    [
        ["GeoIP2-City-Test"],
        ["GeoIP2-Country-Test", "GeoLite2-City-Test", "GeoLite2-ASN-Test"],
        ["GeoIP2-Enterprise-Test", "GeoIP2-ISP-Test"],
        ["GeoLite2-ASN-Test", "GeoIP2-Precision-Enterprise-Test", "GeoIP2-City-Test"],
    ],
)
def test_the_test_databases_answer_as_one_by_one(test_data: Path, names: list[str]) -> None:
    paths = [str(test_data / f"{name}.mmdb") for name in names]
    ips = _test_addresses()
    assert _together(paths, ips) == _alone(paths, ips)


def test_neighbouring_networks_keep_their_own_answers(make_db: MakeDb) -> None:
    city = make_db(
        "GeoIP2-City",
        {
            "8.8.8.0/25": {"country": {"iso_code": "US"}, "city": {"names": {"en": "A"}}},
            "8.8.8.128/25": {"country": {"iso_code": "DE"}, "city": {"names": {"en": "B"}}},
            "8.8.9.0/24": {"country": {"iso_code": "US"}, "city": {"names": {"en": "A"}}},
            "9.0.0.0/8": {"country": {"iso_code": "FR"}},
        },
    )
    asn = make_db(
        "GeoLite2-ASN",
        {
            "8.8.8.0/24": {"autonomous_system_number": 1},
            "8.8.9.0/24": {"autonomous_system_number": 2},
        },
    )
    ips = ["8.8.9.1", "8.8.8.127", "9.1.1.1", "8.8.8.128", "8.8.8.1", "8.8.7.255", "8.8.8.129"]
    together = _together([city, asn], ips)
    assert together == _alone([city, asn], ips)
    assert [(loc.country, loc.city, loc.asn) for loc in together] == [
        ("US", "A", 2), ("US", "A", 1), ("FR", None, None), ("DE", "B", 1), ("US", "A", 1),
        (None, None, None), ("DE", "B", 1),
    ]  # fmt: skip


# Records that == calls equal (True == 1 == 1.0, 0.0 == -0.0) but that flatten differently.
ALIKE_BY_EQUALITY: list[dict[str, Any]] = [
    {"country": {"iso_code": "US"}, "location": {"accuracy_radius": 100, "latitude": 0.0}},
    {"country": {"iso_code": "US"}, "location": {"accuracy_radius": 100.0, "latitude": -0.0}},
    {"country": {"iso_code": "US"}, "location": {"accuracy_radius": True, "latitude": False}},
    {"country": {"iso_code": "US"}, "traits": {"is_anycast": True, "autonomous_system_number": 1}},
    {"country": {"iso_code": "US"}, "traits": {"is_anycast": 1, "autonomous_system_number": True}},
    {"country": {"iso_code": "US"}, "traits": {"is_anycast": 1.0, "autonomous_system_number": 1.0}},
]


def _exact_records(make: MakeDb, records: dict[str, Any]) -> str:
    """A database of exactly these records: mmdb-writer shares the data of records that ==
    calls equal, which would write the first of True and 1 for both."""
    with mock.patch.object(mmdb_writer.Encoder, "_freeze", lambda _self, value: repr(value)):
        return make("GeoIP2-City", records)


def test_records_alike_only_by_equality_keep_their_own_answers(make_db: MakeDb) -> None:
    networks = [f"8.8.{third}.0/24" for third in range(len(ALIKE_BY_EQUALITY))]
    path = _exact_records(make_db, dict(zip(networks, ALIKE_BY_EQUALITY, strict=True)))
    ips = [f"8.8.{third}.{last}" for last in (1, 2) for third in range(len(ALIKE_BY_EQUALITY))]
    together = _together([path], ips)
    assert together == _alone([path], ips)
    radii = [loc.accuracy_radius for loc in together[:3]]
    assert radii == [100, None, None]
    latitudes = [str(loc.answers[0].latitude) for loc in together[:3]]
    assert latitudes == ["0.0", "-0.0", "None"]
    owners = [(loc.asn, loc.is_anycast) for loc in together[3:6]]
    assert owners == [(1, True), (None, False), (None, False)]


def test_answers_equal_but_for_a_signed_zero_keep_their_own_coordinates(make_db: MakeDb) -> None:
    """Two places (the network owners differ) whose country answers are == (0.0 == -0.0):
    each keeps its own latitude in its CountryAnswer."""
    city = _exact_records(
        make_db,
        {
            "8.8.8.0/24": {"country": {"iso_code": "US"}, "location": {"latitude": 0.0}},
            "8.8.9.0/24": {"country": {"iso_code": "US"}, "location": {"latitude": -0.0}},
        },
    )
    asn = make_db(
        "GeoLite2-ASN",
        {
            "8.8.8.0/24": {"autonomous_system_number": 1},
            "8.8.9.0/24": {"autonomous_system_number": 2},
        },
    )
    ips = ["8.8.8.8", "8.8.9.9", "8.8.8.9", "8.8.9.8"]
    together = _together([city, asn], ips)
    assert together == _alone([city, asn], ips)
    assert [str(loc.answers[0].latitude) for loc in together] == ["0.0", "-0.0", "0.0", "-0.0"]


def _first_failure(paths: list[str], ips: list[str]) -> str:
    """What locate() raises for the first address, in this order, that fails."""
    located = _in_turn(paths, ips)
    assert isinstance(located, str)
    return located


def test_a_defective_record_fails_naming_the_first_address_given(make_db: MakeDb) -> None:
    path = make_db(
        "GeoIP2-City",
        {
            "8.8.8.0/24": {"country": "US"},  # a section that is no map: a corrupt record
            "8.8.9.0/24": {"country": {"iso_code": "US"}},
            "9.9.9.0/24": {"country": "DE"},
        },
    )
    # In address order 8.8.8.8 fails first; in the order given, 9.9.9.9 does.
    ips = ["8.8.9.1", "9.9.9.9", "8.8.8.8"]
    with open_locator([path]) as locator, pytest.raises(DatabaseError) as raised:
        locator.locate_all(ips)
    assert str(raised.value) == _first_failure([path], ips)
    assert "lookup of 9.9.9.9 failed" in str(raised.value)


def test_a_defective_record_is_never_kept_as_an_answer(make_db: MakeDb) -> None:
    path = make_db(
        "GeoIP2-City", {"8.8.8.0/24": {"country": "US"}, "8.8.9.0/24": {"country": "US"}}
    )
    with open_locator([path]) as locator:
        for ip in ("8.8.8.8", "8.8.9.9", "8.8.8.9"):
            with pytest.raises(DatabaseError, match=f"lookup of {ip} failed"):
                locator.locate_all([ip])


def test_no_address_no_database() -> None:
    with open_locator([]) as locator:
        assert locator.locate_all([]) == ()
        assert locator.locate_all(["8.8.8.8", "10.0.0.1"]) == (
            locator.locate("8.8.8.8"), locator.locate("10.0.0.1"),
        )  # fmt: skip


def test_not_an_address_is_a_value_error(test_data: Path) -> None:
    with (
        open_locator([str(test_data / "GeoIP2-City-Test.mmdb")]) as locator,
        pytest.raises(ValueError, match="not-an-ip"),
    ):
        locator.locate_all(["81.2.69.160", "not-an-ip"])


def _in_turn(paths: list[str], ips: list[str]) -> list[Location] | str:
    """locate() of each address in turn with one locator, or the first error met."""
    try:
        with open_locator(paths) as locator:
            return [locator.locate(ip) for ip in ips]
    except DatabaseError as error:
        return str(error)


def _at_once(paths: list[str], ips: list[str]) -> list[Location] | str:
    try:
        with open_locator(paths) as locator:
            return list(locator.locate_all(ips))
    except DatabaseError as error:
        return str(error)


def _bad_databases() -> list[str]:
    import os

    root = os.environ.get("AUDITOR_SHARED_DATA")
    if not root:
        return []
    folder = Path(root) / "mmdb" / "bad-data"
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*.mmdb"))


@pytest.mark.parametrize("name", _bad_databases())
def test_a_corrupt_database_fails_or_answers_as_one_by_one(bad_data: Path, name: str) -> None:
    ips = _test_addresses()
    assert _at_once([str(bad_data / name)], ips) == _in_turn([str(bad_data / name)], ips)



def test_in_small_blocks_every_answer_and_failure_is_the_same(
    test_data: Path, make_db: MakeDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "_BLOCK", 3)
    paths = [str(test_data / "GeoIP2-City-Test.mmdb"), str(test_data / "GeoLite2-ASN-Test.mmdb")]
    ips = _test_addresses()
    assert _together(paths, ips) == _alone(paths, ips)
    path = make_db(
        "GeoIP2-City", {"8.8.8.0/24": {"country": "US"}, "9.9.9.0/24": {"country": "DE"}}
    )
    ips = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "9.9.9.9", "4.4.4.4", "8.8.8.8"]
    assert _at_once([path], ips) == _in_turn([path], ips)
    assert "lookup of 9.9.9.9 failed" in str(_at_once([path], ips))


def _segment_edges() -> list[str]:
    """Every address class segment's first address and the one before it, both versions (the
    bisections that class addresses in address order must part them exactly there)."""
    import ipaddress

    from auditor.addresses import class_segments

    edges: list[str] = []
    for version, address in ((4, ipaddress.IPv4Address), (6, ipaddress.IPv6Address)):
        top = (1 << (32 if version == 4 else 128)) - 1
        for start in class_segments(version)[0]:
            near = (start - 1, start, start + 1)
            edges += [str(address(value)) for value in near if 0 <= value <= top]
    return edges


@pytest.mark.parametrize("version", [4, 6])
def test_addresses_at_every_class_edge_answer_as_one_by_one(test_data: Path, version: int) -> None:
    """All IPv4 text (parsed at once) and mixed text (one by one): each address at, before and
    after each class segment's start is classed and located as locate() does alone."""
    paths = [str(test_data / "GeoIP2-City-Test.mmdb"), str(test_data / "GeoLite2-ASN-Test.mmdb")]
    ips = [ip for ip in _segment_edges() if version == 6 or ":" not in ip]
    ips += ["81.2.69.160", "81.2.69.160", "216.160.83.56", "89.160.20.112"]  # a repeat
    random.Random(version).shuffle(ips)  # noqa: S311 - an order, not a secret
    assert _together(paths, ips) == _alone(paths, ips)
    assert all(":" not in ip for ip in ips) is (version == 4)


def test_ipv4_text_inet_pton_refuses_is_parsed_one_by_one(test_data: Path) -> None:
    """Text the joined inet_pton refuses (a zero-padded octet ipaddress refuses too; a space
    ipaddress strips): the block is parsed one by one, as locate() would each."""
    paths = [str(test_data / "GeoIP2-City-Test.mmdb")]
    ips = ["81.2.69.160", " 81.2.69.142", "10.0.0.1"]
    assert _together(paths, ips) == _alone(paths, ips)
    with open_locator(paths) as locator, pytest.raises(ValueError, match="081"):
        locator.locate_all(["81.2.69.160", "081.2.69.160"])
