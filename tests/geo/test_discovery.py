"""Discovery order: --db, AUDITOR_DB, the system GeoIP folders, then the bundled databases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.geo.bundled import bundled_asn, bundled_city, bundled_country, bundled_databases
from auditor.geo.discovery import DEFAULT_DIRS, discover_databases


def _touch(directory: Path, name: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"")
    return str(path)


def test_explicit_paths_win_over_everything(tmp_path: Path) -> None:
    system = tmp_path / "GeoIP"
    _touch(system, "GeoLite2-City.mmdb")
    env = {"AUDITOR_DB": "/env/one.mmdb"}
    found = discover_databases(["b.mmdb", "a.mmdb"], env, [str(system)])
    assert found == ["b.mmdb", "a.mmdb"]  # given order kept: it is the preference order


def test_environment_path_list_comes_next(tmp_path: Path) -> None:
    system = tmp_path / "GeoIP"
    _touch(system, "GeoLite2-City.mmdb")
    env = {"AUDITOR_DB": os.pathsep.join(["/env/one.mmdb", "", "/env/two.mmdb"])}
    assert discover_databases([], env, [str(system)]) == ["/env/one.mmdb", "/env/two.mmdb"]


def test_empty_environment_variable_is_ignored(tmp_path: Path) -> None:
    found = discover_databases([], {"AUDITOR_DB": " "}, [str(tmp_path / "none")])
    assert found == bundled_databases()


def test_system_folders_best_edition_first(tmp_path: Path) -> None:
    first, second = tmp_path / "usr-share", tmp_path / "var-lib"
    _touch(first, "GeoLite2-Country.mmdb")
    city = _touch(second, "GeoLite2-City.mmdb")
    asn = _touch(first, "GeoLite2-ASN.mmdb")
    _touch(second, "GeoLite2-ASN.mmdb")
    _touch(first, "unrelated.mmdb")
    found = discover_databases([], {}, [str(first), str(second)])
    assert found == [city, bundled_city(), asn]


def test_paid_editions_are_preferred(tmp_path: Path) -> None:
    folder = tmp_path / "GeoIP"
    _touch(folder, "GeoLite2-City.mmdb")
    enterprise = _touch(folder, "GeoIP2-Enterprise.mmdb")
    isp = _touch(folder, "GeoIP2-ISP.mmdb")
    _touch(folder, "GeoLite2-ASN.mmdb")
    assert discover_databases([], {}, [str(folder)]) == [enterprise, bundled_city(), isp]


def test_bundled_fills_a_missing_role(tmp_path: Path) -> None:
    folder = tmp_path / "GeoIP"
    asn = _touch(folder, "GeoLite2-ASN.mmdb")
    assert discover_databases([], {}, [str(folder)]) == [bundled_country(), bundled_city(), asn]
    country = _touch(tmp_path / "other", "GeoLite2-Country.mmdb")
    found = discover_databases([], {}, [str(tmp_path / "other")])
    assert found == [country, bundled_city(), bundled_asn()]


def test_an_updated_dbip_file_replaces_the_bundled_one(tmp_path: Path) -> None:
    folder = tmp_path / "GeoIP"
    dbip = _touch(folder, "dbip-city-lite.mmdb")
    assert discover_databases([], {}, [str(folder)]) == [bundled_country(), dbip, bundled_asn()]
    city = _touch(folder, "GeoLite2-City.mmdb")
    asn = _touch(folder, "GeoLite2-ASN.mmdb")
    assert discover_databases([], {}, [str(folder)]) == [city, dbip, asn]


def test_nothing_found_means_the_bundled_databases(tmp_path: Path) -> None:
    found = discover_databases([], {}, [str(tmp_path / "missing"), str(tmp_path)])
    assert found == bundled_databases()
    assert [Path(p).name for p in found] == [
        "auditor-country.mmdb",
        "auditor-city.mmdb",
        "auditor-asn.mmdb",
    ]


def test_default_folders_are_the_geoipupdate_ones() -> None:
    assert DEFAULT_DIRS == (
        "/usr/share/GeoIP",
        "/var/lib/GeoIP",
        "/usr/local/share/GeoIP",
        "/opt/homebrew/var/GeoIP",
    )


def test_discovery_does_not_read_os_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_DB", "/from/os/environ.mmdb")
    assert discover_databases([], {}, [str(tmp_path)]) == bundled_databases()
