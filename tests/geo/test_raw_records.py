"""The locator reads GeoIP2-shaped records raw: every record of MaxMind's test databases gives
the same answer as geoip2's own model of it (the oracle), and the bundled databases too."""

from __future__ import annotations

from pathlib import Path

import geoip2.database
import maxminddb
import pytest

from auditor.geo.layouts import Layout, answer_from_geoip2, answer_from_geoip2_record, detect_layout

EDITIONS = (
    "GeoIP2-Country-Test.mmdb",
    "GeoIP2-City-Test.mmdb",
    "GeoLite2-Country-Test.mmdb",
    "GeoLite2-City-Test.mmdb",
    "GeoLite2-ASN-Test.mmdb",
    "GeoIP2-ISP-Test.mmdb",
    "GeoIP2-Enterprise-Test.mmdb",
)
_METHODS = {
    Layout.GEOIP2_ENTERPRISE: "enterprise",
    Layout.GEOIP2_CITY: "city",
    Layout.GEOIP2_COUNTRY: "country",
    Layout.GEOIP2_ASN: "asn",
    Layout.GEOIP2_ISP: "isp",
}


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_record_reads_as_geoip2_reads_it(test_data: Path, edition: str) -> None:
    path = str(test_data / edition)
    raw = maxminddb.open_database(path)
    layout = detect_layout(raw.metadata().database_type)
    assert layout is not None
    assert layout.uses_geoip2
    method = getattr(geoip2.database.Reader(path), _METHODS[layout])
    compared = 0
    for network, record in raw:
        address = str(network.network_address)
        assert answer_from_geoip2_record(layout, record) == answer_from_geoip2(method(address))
        compared += 1
    assert compared > 10


@pytest.mark.parametrize("record", [{"country": "CN"}, {"traits": []}, {"location": 5}, []])
def test_a_section_that_is_no_map_is_a_corrupt_record(record: object) -> None:
    with pytest.raises(TypeError):
        answer_from_geoip2_record(Layout.GEOIP2_CITY, record)
