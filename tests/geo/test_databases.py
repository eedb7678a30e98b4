"""Every MaxMind test database loads or fails cleanly; every corrupt one fails cleanly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.errors import DatabaseError
from auditor.geo import open_locator
from auditor.geo.layouts import Layout

PROBES = (
    "1.1.1.1",
    "8.8.8.8",
    "81.2.69.160",
    "89.160.20.128",
    "214.1.1.1",
    "2.125.160.216",
    "2001:218::1",
    "2a02:d180::1",
    "175.16.199.1",
    "255.255.255.254",
    "216.160.83.56",
)

# Test databases whose layout carries locations; the rest (anonymous IP, connection type...)
# and MaxMind's generic test trees ("Test", "MaxMind DB Decoder Test") are refused by name.
READABLE = {
    "GeoIP2-City-Shield-Test.mmdb",
    "GeoIP2-City-Test.mmdb",
    "GeoIP2-Country-Shield-Test.mmdb",
    "GeoIP2-Country-Test.mmdb",
    "GeoIP2-Enterprise-Shield-Test.mmdb",
    "GeoIP2-Enterprise-Test.mmdb",
    "GeoIP2-ISP-Test.mmdb",
    "GeoIP2-Precision-Enterprise-Shield-Test.mmdb",
    "GeoIP2-Precision-Enterprise-Test.mmdb",
    "GeoLite2-ASN-Test.mmdb",
    "GeoLite2-City-Test.mmdb",
    "GeoLite2-Country-Test.mmdb",
}


def _files(*parts: str) -> list[str]:
    root = os.environ.get("AUDITOR_SHARED_DATA")
    if not root:
        return []
    return sorted(
        str(p.relative_to(Path(root, *parts))) for p in Path(root, *parts).rglob("*.mmdb")
    )


def _lookup_all(path: str) -> None:
    with open_locator([path]) as locator:
        for ip in PROBES:
            locator.locate(ip)


def _error_of(path: str) -> str | None:
    """The DatabaseError's text, or None when every probe was looked up."""
    try:
        _lookup_all(path)
    except DatabaseError as error:
        return str(error)
    return None


@pytest.mark.parametrize("name", _files("mmdb", "test-data"))
def test_every_test_database_loads_or_fails_with_one_line(test_data: Path, name: str) -> None:
    path = str(test_data / name)
    error = _error_of(path)
    if error is None:
        assert name in READABLE
    else:
        assert name not in READABLE, error
        assert error.startswith(f"{path}: ")
        assert "\n" not in error


@pytest.mark.parametrize("name", _files("mmdb", "bad-data"))
def test_every_corrupt_database_is_a_database_error(bad_data: Path, name: str) -> None:
    path = str(bad_data / name)
    with pytest.raises(DatabaseError) as caught:
        _lookup_all(path)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_broken_test_databases_fail(test_data: Path) -> None:
    for name in (
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
    ):
        with pytest.raises(DatabaseError, match=r"corrupt|not a valid"):
            _lookup_all(str(test_data / name))


@pytest.mark.parametrize("layout", [Layout.GEOIP2_CITY, Layout.GEOIP2_ASN, Layout.IP_LOCATION_DB])
@pytest.mark.parametrize("name", _files("mmdb", "bad-data"))
def test_corrupt_database_read_as_a_known_layout_never_escapes(
    bad_data: Path, name: str, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Their type is "Test", refused by name; pretend it is readable to reach the lookups.
    monkeypatch.setattr("auditor.geo.metadata.detect_layout", lambda _type: layout)
    error = _error_of(str(bad_data / name))
    assert error is None or error.startswith(str(bad_data / name))
